"""forecast_frame on the engines users run: Dask (a LocalCluster of worker processes) and
Spark (local mode), each giving the forecasts the CLI writes for the same file. The extras
`forecastr[dask]` and `forecastr[spark]` install them; CI installs both."""

from __future__ import annotations

import functools
import importlib
import io
import os
import sys

import pandas as pd
import pytest

from forecastr import api
from forecastr.config import FitConfig
from tests.conftest import SAMPLE_DATA

PRISON = SAMPLE_DATA / "prison.csv.gz"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers")
    csv, model = folder / "prison.csv", folder / "m.fcst"
    pd.read_csv(PRISON, dtype={"unique_id": str}).to_csv(csv, index=False)
    api.fit(csv, FitConfig(hidden=8, layers=1, max_steps=3, seed=0, quantiles=(0.1, 0.9)),
            model)
    return csv, model


def by_series(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order, times at one resolution (engines and pandas versions differ)."""
    frame = frame.assign(ds=frame["ds"].astype("datetime64[ns]"))
    return frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def expected(cli, csv, model) -> pd.DataFrame:
    result = cli(["predict", model, csv])
    assert result.exit_code == 0, result.stderr
    return by_series(pd.read_csv(io.StringIO(result.stdout), parse_dates=["ds"]))


def test_dask_map_partitions_on_a_local_cluster_gives_the_clis_forecasts(cli, fitted):
    dd = pytest.importorskip("dask.dataframe", reason="needs pip install 'forecastr[dask]'")
    distributed = pytest.importorskip("distributed", reason="needs 'forecastr[dask]'")
    csv, model = fitted
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        rows = dd.read_csv(str(csv), dtype={"unique_id": str, "ds": str}, blocksize=20_000)
        assert rows.npartitions > 1  # the file's blocks cut series apart ...
        whole = rows.shuffle(on="unique_id", npartitions=4)  # ... a shuffle puts them together
        forecast = whole.map_partitions(functools.partial(api.forecast_frame, model),
                                        meta=api.forecast_columns(model)).compute()
        loads = client.run(lambda: importlib.import_module("forecastr.forecasting.prediction")
                           ._cached.cache_info().misses)
    assert sorted(loads.values()) == [1, 1]  # once per worker, for all its partitions
    pd.testing.assert_frame_equal(by_series(forecast), expected(cli, csv, model), rtol=1e-6)


def test_spark_apply_in_pandas_in_local_mode_gives_the_clis_forecasts(cli, fitted,
                                                                      monkeypatch):
    pytest.importorskip("pyspark", reason="needs pip install 'forecastr[spark]'")
    from pyspark.sql import SparkSession

    csv, model = fitted
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (SparkSession.builder.master("local[2]").appName("forecastr-test")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
             .getOrCreate())
    try:
        rows = spark.read.csv(str(csv), header=True, schema="unique_id STRING, ds STRING, "
                              "y DOUBLE")
        forecast = (rows.groupBy("unique_id")
                    .applyInPandas(functools.partial(api.forecast_frame, str(model)),
                                   schema=api.spark_schema(model))
                    .toPandas())
    finally:
        spark.stop()
    assert api.spark_schema(model) == ("`unique_id` STRING, `ds` TIMESTAMP, `y` DOUBLE, "
                                       "`y-q0.1` DOUBLE, `y-q0.9` DOUBLE")
    pd.testing.assert_frame_equal(by_series(forecast), expected(cli, csv, model), rtol=1e-6,
                                  check_dtype=False)
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
