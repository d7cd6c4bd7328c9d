"""Forecasting a pandas DataFrame, for Dask's map_partitions and Spark's applyInPandas: the
table predict writes for the same rows, and its empty form, which names the columns and their
types before any partition is forecast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from forecastr.forecasting import prediction
from forecastr.forecasting.prediction import NewSeries, Predictor

if TYPE_CHECKING:
    import pandas as pd


def forecast_frame(model: str | Path | Predictor, frame: pd.DataFrame, *,
                   horizon: int | None = None, with_history: bool = False,
                   mark_forecasts: bool = False, new_series: NewSeries = "forecast",
                   device_spec: str = "auto", threads: int | None = None) -> pd.DataFrame:
    """predict's table for a pandas DataFrame of whole series (the columns of a file the
    model reads), for Dask's map_partitions and Spark's applyInPandas. `model` is a path,
    loaded once per process and reused while the file is unchanged, or a Predictor from
    prediction.load. An empty frame gives an empty table of forecast_columns' columns."""
    from forecastr.data.source import Excerpt
    from forecastr.forecasting import model_data

    prediction.check_options(horizon, new_series, threads)  # as predict checks them
    predictor = model if isinstance(model, Predictor) \
        else prediction.cached(model, device_spec, threads)
    prediction.check_horizon(predictor, horizon)
    if not len(frame):
        return empty_forecast(predictor, with_history, mark_forecasts)
    data = Excerpt(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"),
                   "<DataFrame>", np.arange(2, len(frame) + 2))
    panel = model_data.read_for_model(data, predictor.artifact, predictor.path)
    tally = prediction.Tally()
    result = prediction.forecast_panel(predictor, panel, tally, horizon=horizon,
                                       with_history=with_history,
                                       mark_forecasts=mark_forecasts, new_series=new_series,
                                       future=data)
    tally.report(panel.source, predictor, new_series)
    return result


def forecast_columns(model: str | Path | Predictor) -> pd.DataFrame:
    """The empty table of a model's forecasts, its columns and dtypes: Dask's `meta`, and
    what a Spark schema names."""
    return empty_forecast(model if isinstance(model, Predictor) else prediction.cached(model),
                          False)


def spark_schema(model: str | Path | Predictor) -> str:
    """forecast_columns as a Spark DDL schema string, for applyInPandas (no pyspark needed
    here): `unique_id` STRING, `ds` TIMESTAMP, `y` DOUBLE, ..."""
    columns = forecast_columns(model)
    kinds = {"M": "TIMESTAMP", "i": "BIGINT", "f": "DOUBLE"}
    return ", ".join(f"`{name}` {kinds.get(dtype.kind, 'STRING')}"
                     for name, dtype in columns.dtypes.items())


def empty_forecast(predictor: Predictor, with_history: bool,
                   mark_forecasts: bool = False) -> pd.DataFrame:
    """The table of no series: the columns and dtypes the model's forecasts have."""
    from forecastr.data.panel import empty_like

    return prediction.forecast_panel(predictor, empty_like(predictor.artifact.schema),
                                     prediction.Tally(), with_history=with_history,
                                     mark_forecasts=mark_forecasts)
