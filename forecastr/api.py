"""The library API behind every command: plain functions that take a source and a FitConfig
and return plain data. It never prints; warnings go to the `forecastr` logger. `fit`, `tune`,
`evaluate` and `compare` live in their stages' modules and are found here too."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np

from forecastr.clock import Clock
from forecastr.config import FitConfig, at_least_one, one_of
from forecastr.data import calendar
from forecastr.data.panel import Panel, has_clock_times, select, time_text
from forecastr.data.reader import read_panel
from forecastr.data.source import rereadable
from forecastr.data.writer import check_writable
from forecastr.errors import ConfigError, DataError
from forecastr.evaluation.evaluate import compare, evaluate  # noqa: F401
from forecastr.forecasting import frames
from forecastr.forecasting.frames import (  # noqa: F401 (the README's api.forecast_frame)
    forecast_columns,
    forecast_frame,
    spark_schema,
)
from forecastr.forecasting.prediction import NewSeries
from forecastr.network.windows import build
from forecastr.training.fitting import FEWER_SERIES, FitResult, Prepared, fit, prepare  # noqa: F401
from forecastr.tuning.search import TuneResult, tune  # noqa: F401

if TYPE_CHECKING:
    import pandas as pd

    from forecastr.data.shards import Shard
    from forecastr.forecasting.prediction import Predictor

log = logging.getLogger(__name__)


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
        "future_features": list(schema.future_features),
        "static_features": list(schema.static_features),
        "n_series": panel.n_series,
        "n_points": int(panel.lengths.sum()),
        "filled": int(panel.filled.sum()),
    }
    clock = has_clock_times(panel.times)
    report["series"] = [_describe_series(panel, s, clock) for s in range(panel.n_series)]
    report["windows"] = _describe_windows(panel, cfg)
    return report


def _describe_series(panel: Panel, s: int, clock: bool) -> dict[str, Any]:
    _, times = panel.series(s)
    return {"id": panel.ids[s], "length": len(times), "start": time_text(times[0], clock),
            "end": time_text(times[-1], clock), "filled": int(panel.filled[s])}


def _describe_windows(panel: Panel, cfg: FitConfig) -> dict[str, Any]:
    cfg = calendar.settle(cfg, panel.schema.freq)
    settings = {"window": cfg.window, "horizon": cfg.horizon, "stride": cfg.stride,
                "val_windows": cfg.val_windows}
    try:
        split = build(panel, cfg.window, cfg.horizon, cfg.stride, cfg.val_windows)
    except DataError as exc:
        return {**settings, "error": str(exc)}
    return {**settings, "train": len(split.train), "val": len(split.val),
            "padded": list(split.padded), "skipped": list(split.skipped)}


def info(model_path: str | Path) -> dict[str, Any]:
    """What a model file holds: architecture, data schema, config and training summary, and
    what it forecasts with (its starting point or its trained network)."""
    from forecastr.modelfile import artifact

    loaded = artifact.load(model_path)
    cfg = loaded.config
    return {
        "model": str(model_path),
        "versions": loaded.versions,
        "architecture": {"cell": cfg.cell, "mode": cfg.mode, "layers": cfg.layers,
                         "hidden": cfg.hidden, "bidirectional": cfg.bidirectional,
                         "dropout": cfg.dropout, "ensemble": cfg.ensemble,
                         "baseline": cfg.baseline, "window": loaded.window,
                         "horizon": loaded.horizon,
                         "inputs_per_step": loaded.dimensions.n_inputs,
                         "parameters": sum(int(t.numel()) for t in loaded.state_dict.values()),
                         "quantiles": list(cfg.quantiles),
                         "intervals": [f"{level:g}%" for level in cfg.intervals],
                         "interval_method": cfg.interval_method if cfg.intervals else None},
        "data": {"trained_on": loaded.training.get("data"),  # files before 0.1 lack it
                 "last_time": max(loaded.series.get("last_times") or [None]),
                 **{k: v for k, v in dataclasses.asdict(loaded.schema).items()},
                 "calendar": list(loaded.calendar), "scaler": loaded.scaling.kind,
                 "n_series": len(loaded.series["ids"])},
        "training": {k: v for k, v in loaded.training.items() if k != "history"},
        "starting_point": loaded.starting_point(),
        "config": dataclasses.asdict(cfg),
    }


OutputFormat = Literal["csv", "json", "parquet"]


def predict(model_path: str | Path, source: str | Path | BinaryIO, *,
            horizon: int | None = None, with_history: bool = False,
            mark_forecasts: bool = False, new_series: NewSeries = "forecast",
            device_spec: str = "auto", output: str | Path | None = None,
            fmt: OutputFormat | None = None, future: str | Path | BinaryIO | None = None,
            shard: str | None = None, threads: int | None = None) -> pd.DataFrame:
    """Forecast the steps after the end of every series in DATA, in DATA's own layout.

    `with_history` puts each series' history before its forecasts; `mark_forecasts` adds
    a column is_forecast that tells them apart (table.to_frame). new_series: what to do
    with series the model never saw: "forecast" (the model is global), "skip" them, or
    raise an "error". `output`, when given, is written atomically as `fmt` (CSV, JSON lines
    or Parquet; by default Parquet where its name ends in .parquet or .pq, else CSV); it is
    checked before any work, and may not be an input. A model fitted with future features
    reads their values at the forecast steps from `future` (a file in DATA's layout) or, by
    default, from the rows past the end of each series in DATA, whose target is empty.
    `shard` "I/N" forecasts only the series whose id hashes to shard I of N (see
    forecastr.data.shards). `threads`: --threads (None: the policy of
    forecastr.network.threads).
    """
    from forecastr.data import writer
    from forecastr.forecasting import model_data, prediction

    fmt = writer.output_format(fmt, output)
    predictor, chosen = _prediction_setup(model_path, source, horizon, new_series, fmt, output,
                                          future, device_spec, shard, threads)
    if predictor.artifact.dimensions.n_future and future is None:
        source = rereadable(source)  # read twice: the history, then the future rows
    clock = Clock()
    panel = model_data.read_for_model(source, predictor.artifact, str(model_path))
    clock.lap("read")
    if chosen is not None:
        panel = select(panel, np.flatnonzero(chosen.keep(panel.ids)))
    tally = prediction.Tally()
    frame = prediction.forecast_panel(
        predictor, panel, tally, horizon=horizon, with_history=with_history,
        mark_forecasts=mark_forecasts, new_series=new_series,
        future=future if future is not None else source, separate=future is not None,
        clock=clock)
    tally.report(panel.source, predictor, new_series)
    if output is not None:
        writer.write_bytes(writer.render_bytes(frame, fmt), output)
        clock.lap("writing")
    log.info("timings: %s", clock)
    return frame


def predict_chunks(model_path: str | Path, source: str | Path | BinaryIO, *, chunk_series: int,
                   horizon: int | None = None, with_history: bool = False,
                   mark_forecasts: bool = False, new_series: NewSeries = "forecast",
                   device_spec: str = "auto", shard: str | None = None,
                   output: str | Path | None = None,
                   fmt: OutputFormat | None = None, threads: int | None = None
                   ) -> Iterator[pd.DataFrame] | None:
    """predict's forecasts of a long DATA, `chunk_series` whole series at a time: one table
    per chunk, so that memory holds one chunk, however many series DATA has. The rows of
    each series must be together in DATA (a series that comes back is a DataError); the
    tables together are predict's table of the same DATA, in the same order. A model with
    future features reads them from the rows past each series' end in DATA. The model and
    `output` are checked at once. With `output`, the tables are written there as predict
    writes its table (atomically, as `fmt`) and None is returned: an error in any chunk
    leaves no part of the forecasts there. Without it, the tables are returned, and DATA is
    read as they are taken (writer.write_tables)."""
    at_least_one(chunk_series=chunk_series)
    from forecastr.data import writer
    from forecastr.data.reader import is_parquet

    if is_parquet(source):  # a column store has no rows to stream a few series at a time
        raise ConfigError(f"{source}: --chunk-series reads a long CSV a few series at a time; "
                          f"predict a Parquet file without it, or split the work with "
                          f"--shard I/N")
    fmt = writer.output_format(fmt, output)
    predictor, chosen = _prediction_setup(model_path, source, horizon, new_series, fmt, output,
                                          None, device_spec, shard, threads)
    schema = predictor.artifact.schema
    if schema.layout != "long":
        raise ConfigError(f"--chunk-series reads a long file (one row per series and time); "
                          f"{model_path} was fitted on a {schema.layout} file, whose series "
                          f"are columns: predict it whole")
    tables = _chunk_forecasts(predictor, source, chunk_series, chosen, horizon=horizon,
                              with_history=with_history, mark_forecasts=mark_forecasts,
                              new_series=new_series)
    if output is None:
        return tables
    with writer.atomic_write(output) as stream:
        writer.write_tables(tables, fmt, stream)
    return None


def _chunk_forecasts(predictor: Predictor, source: str | Path | BinaryIO, chunk_series: int,
                     chosen: Shard | None, **options: Any) -> Iterator[pd.DataFrame]:
    from forecastr.data import chunks
    from forecastr.forecasting import model_data, prediction

    tally, name = prediction.Tally(), str(source)
    clock = Clock()
    given = False
    with prediction.warnings_once_per_kind(lambda: name):
        for excerpt in chunks.series_chunks(source, predictor.artifact.schema.id_col,
                                            chunk_series, chosen.holds if chosen else None):
            name = excerpt.name
            panel = model_data.read_for_model(excerpt, predictor.artifact, predictor.path)
            clock.lap("read")
            yield prediction.forecast_panel(predictor, panel, tally, future=excerpt,
                                            clock=clock, **options)
            given = True
            clock.lap("writing")
    if not tally.series and chosen is None:
        raise DataError(f"{name}: has a header but no data rows; add the data below it")
    if not given:  # a shard no series falls to: the header (or an empty Parquet table), as
        # predict without chunks writes, which a recipe that joins the shards reads
        yield frames.empty_forecast(predictor, options["with_history"], options["mark_forecasts"])
    tally.report(name, predictor, options["new_series"])
    log.info("timings: %s", clock)


def _prediction_setup(model_path: str | Path, source: str | Path | BinaryIO,
                      horizon: int | None, new_series: str, fmt: str,
                      output: str | Path | None, future: str | Path | BinaryIO | None,
                      device_spec: str, shard: str | None, threads: int | None
                      ) -> tuple[Predictor, Shard | None]:
    """The checks made before any data is read, and the model loaded."""
    from forecastr.data import shards
    from forecastr.forecasting import prediction

    one_of(fmt=(fmt, OutputFormat))
    prediction.check_options(horizon, new_series, threads)
    chosen = shards.parse(shard) if shard is not None else None
    if output is not None:
        check_writable(output, inputs={"MODEL": model_path, "DATA": source,
                                       **({"FUTURE": future} if future is not None else {})})
    predictor = prediction.load(model_path, device_spec, threads)
    loaded = predictor.artifact
    if future is not None and not loaded.dimensions.n_future:
        raise ConfigError(f"--future: {model_path} was fitted without future features, so it "
                          f"reads no future values; leave --future out")
    prediction.check_horizon(predictor, horizon)
    return predictor, chosen
