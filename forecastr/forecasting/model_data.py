"""DATA read for a fitted model: with the columns and data options it was fitted with, and
checked against its schema (the kind of time column, frequency, time zone and layout)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import BinaryIO

from forecastr.config import FitConfig
from forecastr.data.panel import Panel
from forecastr.data.reader import read_panel
from forecastr.errors import DataError, UnknownFrequency
from forecastr.modelfile.contents import Artifact


def read_for_model(source: str | Path | BinaryIO, loaded: Artifact,
                   model: str = "the model") -> Panel:
    """Read DATA with the columns and data options the model was fitted with, and check it
    fits the model; `model` names the model file in messages."""
    schema = loaded.schema
    cfg = dataclasses.replace(loaded.config, time_col=schema.time_col, id_col=schema.id_col,
                              targets=schema.targets, features=schema.features,
                              future_features=schema.future_features,
                              static_features=schema.static_features)
    try:
        if isinstance(source, (str, Path)) and str(source) != "-":
            panel = _read_with_model_freq(source, cfg, schema.freq, model)
        else:  # a stream can be read once: always use the model's frequency
            panel = read_panel(source, dataclasses.replace(cfg, freq=schema.freq), model)
    except DataError as exc:
        if exc.fit_option is None:
            raise
        # the reader suggests fit's data options, which predict and evaluate do not have
        raise DataError(f"{exc} (a fit option: {model} reads DATA with the options it was "
                        f"fitted with; fix DATA or refit)") from None
    if panel.schema.time_kind != schema.time_kind:
        raise DataError(f"{panel.source}: the time column holds {panel.schema.time_kind} "
                        f"values but {model} was fitted on {schema.time_kind} ones; give DATA "
                        f"the model's kind of time column")
    if schema.freq != panel.schema.freq:
        raise DataError(f"{panel.source}: data are at frequency {panel.schema.freq} but "
                        f"{model} was fitted at {schema.freq}; give DATA at {schema.freq}, or "
                        f"fit a model on it")
    if panel.schema.tz != schema.tz:  # the calendar inputs and forecast times would shift
        raise DataError(f"{panel.source}: times are in time zone {panel.schema.tz or 'none'} "
                        f"but {model} was fitted on {schema.tz or 'times without a zone'}; "
                        f"give DATA in the model's zone, or fit a model on it")
    if panel.schema.layout != schema.layout:
        raise DataError(f"{panel.source}: a {panel.schema.layout} file, but {model} was "
                        f"fitted on a {schema.layout} file; give DATA in that layout")
    return panel


def _read_with_model_freq(source: str | Path, cfg: FitConfig, freq: str | None,
                          model: str) -> Panel:
    """Infer the frequency like fit did; fall back to the model's when too few rows tell."""
    try:
        return read_panel(source, cfg, model)
    except UnknownFrequency:
        if freq is None:
            raise
        return read_panel(source, dataclasses.replace(cfg, freq=freq), model)
