"""CSV rendering: the column-at-a-time writer gives the text pandas' to_csv gives."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr.data.writer import _csv_by_columns, render
from forecastr.forecasting.table import FORECAST_DIGITS, significant

ROWS = st.integers(min_value=1, max_value=12)
TEXTS = st.one_of(st.none(), st.text(alphabet='ab ,"\n;é-_0', max_size=6))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, -0.0, 1e16, 1e-5, 1e-4, 123456789.123, 5e-324, 2.0]))
MOMENTS = st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                       max_value=pd.Timestamp("2200-01-01").to_pydatetime())


def column(kind: str, rows: int) -> st.SearchStrategy:
    if kind == "float64":
        return st.lists(FLOATS, min_size=rows, max_size=rows).map(
            lambda v: np.array(v, np.float64))
    if kind == "float32":
        return st.lists(st.floats(width=32, allow_nan=True), min_size=rows, max_size=rows).map(
            lambda v: np.array(v, np.float32))
    if kind == "int":
        return st.lists(st.integers(-2**63, 2**63 - 1), min_size=rows, max_size=rows).map(
            lambda v: np.array(v, np.int64))
    if kind == "text":
        return st.lists(TEXTS, min_size=rows, max_size=rows).map(
            lambda v: pd.Series(v, dtype=object))
    moments = st.lists(st.one_of(st.none(), MOMENTS), min_size=rows, max_size=rows)
    if kind == "dates":  # midnights only: to_csv writes the date alone
        return moments.map(lambda v: pd.to_datetime(
            pd.Series(v, dtype="datetime64[ns]")).dt.normalize())
    if kind == "zoned":
        return moments.map(lambda v: pd.to_datetime(
            pd.Series(v, dtype="datetime64[ns]")).dt.tz_localize("UTC").dt.tz_convert(
                "Asia/Kolkata"))
    return moments.map(lambda v: pd.Series(v, dtype="datetime64[ns]"))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(ROWS)
    kinds = draw(st.lists(st.sampled_from(
        ["float64", "float32", "int", "text", "dates", "zoned", "times"]), min_size=2,
        max_size=5))
    names = draw(st.lists(st.text(alphabet='xy, "', min_size=1, max_size=3), min_size=len(kinds),
                          max_size=len(kinds), unique=True))
    return pd.DataFrame({name: pd.Series(draw(column(kind, rows))).reset_index(drop=True)
                         for name, kind in zip(names, kinds)})


@settings(max_examples=300, deadline=None)
@given(frames(), st.booleans())
def test_a_table_is_written_as_pandas_writes_it(frame, header):
    expected = frame.to_csv(index=False, lineterminator="\n", header=header)
    assert render(frame, "csv", header=header) == expected


def test_a_forecast_table_is_written_as_pandas_writes_it():
    times = pd.date_range("2024-03-30 22:00", periods=4, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame({"unique_id": ["a", "a", 'b,"c"', 'b,"c"'], "ds": times,
                          "y": [139.35, np.nan, -0.0, 1e20], "y-lo-80": [1, 2, 3, 4]})
    assert _csv_by_columns(frame, header=True) is not None  # not left to pandas: 2-5x slower
    assert render(frame, "csv") == (
        'unique_id,ds,y,y-lo-80\n'
        'a,2024-03-30 22:00:00+01:00,139.35,1\n'
        'a,2024-03-30 23:00:00+01:00,,2\n'
        '"b,""c""",2024-03-31 00:00:00+01:00,-0.0,3\n'
        '"b,""c""",2024-03-31 01:00:00+01:00,1e+20,4\n')


def test_an_id_with_a_carriage_return_is_quoted_so_that_other_readers_keep_the_row():
    frame = pd.DataFrame({"unique_id": ["a\rb", "c"], "y": [1.5, 2.0]})
    text = render(frame, "csv")
    assert text == '"unique_id","y"\n"a\rb",1.5\n"c",2.0\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["unique_id", "y"], ["a\rb", "1.5"], ["c", "2.0"]]


def test_kinds_left_to_pandas_are_written_as_pandas_writes_them():
    frame = pd.DataFrame({"flag": [True, False], "y": pd.array([1, None], dtype="Int64"),
                          "c": pd.Categorical(["x", "y"])})
    assert render(frame, "csv") == frame.to_csv(index=False, lineterminator="\n")


def test_numbers_of_every_magnitude_are_written_as_pandas_writes_them():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(500, 100, 3000), rng.lognormal(0, 12, 3000),
                             rng.standard_cauchy(3000), rng.uniform(-1e16, 1e16, 3000),
                             np.round(rng.normal(0, 1e6, 3000))])
    frame = pd.DataFrame({"y": values, "rounded": significant(values, FORECAST_DIGITS)})
    assert render(frame, "csv") == frame.to_csv(index=False, lineterminator="\n")


def test_forecasts_are_written_to_the_seven_digits_float32_holds():
    # float32 noise as predict wrote it before (8 digits), and what is written now
    noisy = np.array([139.35001, 154.11999, 0.99999996, 2.0, 1234567.875, -0.000123456789])
    rounded = significant(noisy, FORECAST_DIGITS)
    assert rounded.tolist() == [139.35, 154.12, 1.0, 2.0, 1234568.0, -0.0001234568]
    assert render(pd.DataFrame({"y": rounded}), "csv").split() == [
        "y", "139.35", "154.12", "1.0", "2.0", "1234568.0", "-0.0001234568"]
