"""The library API behind every command: plain functions that take a source and a FitConfig
and return plain data. It never prints; warnings go to the `forecastr` logger."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from forecastr.calendar import rhythm
from forecastr.config import FitConfig
from forecastr.errors import DataError
from forecastr.panel import Panel
from forecastr.reader import read_panel
from forecastr.windows import build


def inspect(source: str | Path | BinaryIO, cfg: FitConfig | None = None) -> dict[str, Any]:
    """Describe what forecastr sees in a CSV: layout, time axis, series and windows.

    Returns a JSON-able dict. A file that cannot be read raises DataError; a panel that
    reads but cannot make a single window is reported under `windows.error` instead, so
    that the description is still available.
    """
    cfg = cfg or FitConfig()
    panel = read_panel(source, cfg)
    schema = panel.schema
    report: dict[str, Any] = {
        "source": panel.source,
        "layout": schema.layout,
        "time_col": schema.time_col,
        "time_kind": schema.time_kind,
        "freq": schema.freq if schema.time_kind == "datetime" else None,
        "step": schema.step if schema.time_kind != "datetime" else None,
        "tz": schema.tz,
        "id_col": schema.id_col,
        "targets": list(schema.targets),
        "features": list(schema.features),
        "n_series": panel.n_series,
        "n_points": int(panel.lengths.sum()),
        "filled": int(panel.filled.sum()),
    }
    clock = _has_clock_times(panel.times)
    report["series"] = [_describe_series(panel, s, clock) for s in range(panel.n_series)]
    report["windows"] = _describe_windows(panel, cfg)
    return report


def _has_clock_times(times: np.ndarray) -> bool:
    """True when some timestamp is not at midnight, so times of day must be shown."""
    return times.dtype.kind == "M" and bool((times != times.astype("datetime64[D]")).any())


def _describe_series(panel: Panel, s: int, clock: bool) -> dict[str, Any]:
    _, times = panel.series(s)
    return {"id": panel.ids[s], "length": len(times), "start": _time_text(times[0], clock),
            "end": _time_text(times[-1], clock), "filled": int(panel.filled[s])}


def _time_text(value: np.generic, clock: bool) -> str | int:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s" if clock else "D")).replace("T", " ")
    return int(value)


def window_and_horizon(cfg: FitConfig, freq: str | None) -> tuple[int, int]:
    """The configured window and horizon, or those suggested for the data's frequency."""
    suggested = rhythm(freq)
    return cfg.window or suggested.window, cfg.horizon or suggested.horizon


def _describe_windows(panel: Panel, cfg: FitConfig) -> dict[str, Any]:
    window, horizon = window_and_horizon(cfg, panel.schema.freq)
    settings = {"window": window, "horizon": horizon, "stride": cfg.stride,
                "val_windows": cfg.val_windows}
    try:
        split = build(panel, window, horizon, cfg.stride, cfg.val_windows)
    except DataError as exc:
        return {**settings, "error": str(exc)}
    return {**settings, "train": len(split.train), "val": len(split.val),
            "padded": list(split.padded), "skipped": list(split.skipped)}
