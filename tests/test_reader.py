"""The CSV reader: layouts, sources, the time axis, gap filling, a table of bad files and their
one-line messages, the bundled sample data, and property-based round trips and fuzzing."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecastr.config import FitConfig
from forecastr.data.panel import Panel
from forecastr.data.reader import read_panel
from forecastr.errors import DataError
from tests.conftest import SAMPLE_DATA, run_cli


def read(text: str | bytes, **options: object) -> Panel:
    """Read CSV text through a binary stream, as a library user or the CLI's stdin would."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return read_panel(io.BytesIO(data), FitConfig(**options))


def stamps(*texts: str) -> np.ndarray:
    return np.array([np.datetime64(t, "ns") for t in texts])


def f32(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def assert_series(panel: Panel, s: int, times: np.ndarray, values: list[list[float]]) -> None:
    got_values, got_times = panel.series(s)
    np.testing.assert_array_equal(got_times, times)
    np.testing.assert_array_equal(got_values, f32(values))


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture,
                 monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """caplog for the `forecastr` logger, which the CLI detaches from the root logger."""
    monkeypatch.setattr(logging.getLogger("forecastr"), "propagate", True)
    caplog.set_level(logging.WARNING, logger="forecastr")
    return caplog


# --- layouts ------------------------------------------------------------------------------


def test_single_series_values_times_and_schema():
    panel = read("month,sales\n2020-01-01,1.5\n2020-02-01,2.5\n2020-03-01,4\n")
    assert panel.values.dtype == np.float64 and panel.values.shape == (3, 1)
    assert panel.ids == ("sales",) and panel.indptr.tolist() == [0, 3]
    assert panel.times.dtype == np.dtype("datetime64[ns]")
    assert_series(panel, 0, stamps("2020-01-01", "2020-02-01", "2020-03-01"), [[1.5], [2.5], [4]])
    assert panel.filled.tolist() == [0] and panel.source == "<stream>"
    schema = panel.schema
    assert (schema.layout, schema.time_col, schema.time_kind, schema.freq, schema.step) == (
        "single", "month", "datetime", "MS", 1)
    assert (schema.tz, schema.id_col, schema.targets, schema.features, schema.channels) == (
        None, None, ("sales",), (), ("sales",))
    assert schema.n_targets == 1


def test_wide_columns_are_series_in_column_order():
    panel = read("date,b,a,c\n2020-01-01,1,10,100\n2020-01-02,2,20,200\n2020-01-03,3,30,300\n")
    assert panel.schema.layout == "wide" and panel.ids == ("b", "a", "c")
    assert panel.schema.channels == ("value",) and panel.schema.targets == ("b", "a", "c")
    assert panel.indptr.tolist() == [0, 3, 6, 9] and panel.schema.freq == "D"
    days = stamps("2020-01-01", "2020-01-02", "2020-01-03")
    for s, scale in enumerate([1, 10, 100]):
        assert_series(panel, s, days, [[scale], [2 * scale], [3 * scale]])


def test_long_nixtla_columns_recognised_ids_in_order_of_first_appearance():
    text = ("unique_id,ds,y\nb,2020-01-02,20\na,2020-01-01,1\nb,2020-01-01,10\na,2020-01-02,2\n"
            "b,2020-01-03,30\na,2020-01-03,3\n")
    panel = read(text)
    schema = panel.schema
    assert (schema.layout, schema.id_col, schema.time_col, schema.targets, schema.channels) == (
        "long", "unique_id", "ds", ("y",), ("y",))
    assert panel.ids == ("b", "a") and panel.indptr.tolist() == [0, 3, 6]
    days = stamps("2020-01-01", "2020-01-02", "2020-01-03")
    assert_series(panel, 0, days, [[10], [20], [30]])
    assert_series(panel, 1, days, [[1], [2], [3]])


def test_long_with_id_col_under_other_names():
    text = "store,when,sales\nx,2021-03-01,5\nx,2021-04-01,6\ny,2021-03-01,7\ny,2021-04-01,8\n"
    panel = read(text, id_col="store")
    schema = panel.schema
    assert (schema.layout, schema.id_col, schema.time_col, schema.targets, schema.freq) == (
        "long", "store", "when", ("sales",), "MS")
    assert panel.ids == ("x", "y")
    np.testing.assert_array_equal(panel.values, f32([[5], [6], [7], [8]]))


def test_long_with_several_targets_and_a_feature():
    text = ("id,t,a,b,temp\nk,1,1,10,0.5\nk,2,2,20,0.25\nk,3,3,30,0.125\n")
    panel = read(text, id_col="id", targets=("a", "b"), features=("temp",))
    schema = panel.schema
    assert schema.channels == ("a", "b", "temp") and schema.n_targets == 2
    assert schema.time_kind == "integer" and schema.features == ("temp",)
    np.testing.assert_array_equal(panel.values, f32([[1, 10, 0.5], [2, 20, 0.25], [3, 30, 0.125]]))


def test_long_ids_stay_as_written():
    text = ("unique_id,ds,y\n007,2020-01-01,1\n007,2020-01-02,2\n1.50,2020-01-01,3\n"
            "1.50,2020-01-02,4\nNA,2020-01-01,5\nNA,2020-01-02,6\nNone,2020-01-01,7\n"
            "None,2020-01-02,8\n")
    ids = ("007", "1.50", "NA", "None")  # not numbers, not missing values
    assert read(text).ids == ids
    assert read(text.replace("unique_id", "store"), id_col="store").ids == ids


def test_long_features_are_per_row_channels():
    text = ("unique_id,ds,y,price\na,2020-01-01,1,9\nb,2020-01-01,5,7\na,2020-01-02,2,8\n"
            "b,2020-01-02,6,6\na,2020-01-03,3,7\nb,2020-01-03,7,5\n")
    panel = read(text, features=("price",))
    assert panel.schema.channels == ("y", "price") and panel.schema.targets == ("y",)
    np.testing.assert_array_equal(panel.values, f32([[1, 9], [2, 8], [3, 7], [5, 7], [6, 6],
                                                     [7, 5]]))


def test_wide_features_are_repeated_beside_every_series():
    text = "date,a,temp,b\n2020-01-01,1,-1,10\n2020-01-02,2,-2,20\n2020-01-03,3,-3,30\n"
    panel = read(text, features=("temp",))
    assert panel.ids == ("a", "b") and panel.schema.channels == ("value", "temp")
    np.testing.assert_array_equal(panel.values, f32([[1, -1], [2, -2], [3, -3], [10, -1],
                                                     [20, -2], [30, -3]]))


def test_time_col_and_targets_override_detection():
    text = ("recorded,date,a,b,c\n2019-05-01,2020-01-01,1,10,100\n2019-05-09,2020-01-02,2,20,200\n"
            "2019-05-02,2020-01-03,3,30,300\n")
    panel = read(text, time_col="date", targets=("c",))
    assert panel.schema.layout == "single" and panel.schema.time_col == "date"
    assert panel.ids == ("c",) and panel.schema.freq == "D"
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"),
                  [[100], [200], [300]])
    wide = read(text, time_col="date", targets=("c", "a"))
    assert wide.schema.layout == "wide" and wide.ids == ("c", "a")


# --- sources and delimiters ---------------------------------------------------------------

DAILY = "date,v\n2020-01-01,1.5\n2020-01-02,2.5\n2020-01-03,3.5\n"


def check_daily(panel: Panel) -> None:
    assert panel.ids == ("v",) and panel.schema.freq == "D"
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"),
                  [[1.5], [2.5], [3.5]])


def test_sources_path_gzip_and_binary_file(tmp_path: Path):
    plain = tmp_path / "d.csv"
    plain.write_text(DAILY)
    zipped = tmp_path / "d.csv.gz"
    zipped.write_bytes(gzip.compress(DAILY.encode()))
    disguised = tmp_path / "gzipped.csv"  # gzip is known by its magic bytes, not its name
    disguised.write_bytes(gzip.compress(DAILY.encode()))
    for source in (plain, str(plain), zipped, disguised):
        panel = read_panel(source)
        check_daily(panel)
        assert panel.source == str(source)
    with open(zipped, "rb") as stream:
        panel = read_panel(stream)
    check_daily(panel)
    assert panel.source == str(zipped)


def test_stdin_through_the_cli():
    args = ["inspect", "-", "--json", "--window", "2", "--horizon", "1", "--val-windows", "0"]
    for data in (DAILY, gzip.compress(DAILY.encode())):
        result = run_cli(args, input=data)
        assert result.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        assert (report["source"], report["layout"], report["freq"], report["n_points"]) == (
            "<stdin>", "single", "D", 3)
        assert [(row["id"], row["length"]) for row in report["series"]] == [("v", 3)]


@pytest.mark.parametrize("text", [
    "date,v\n2020-01-01,1.5\n2020-01-02,2.5\n2020-01-03,3.5\n",
    "date;v\n2020-01-01;1,5\n2020-01-02;2,5\n2020-01-03;3,5\n",
    "date\tv\n2020-01-01\t1.5\n2020-01-02\t2.5\n2020-01-03\t3.5\n",
    "date,v\r\n2020-01-01,1.5\r\n2020-01-02,2.5\r\n2020-01-03,3.5\r\n",
    "\ufeffdate,v\n2020-01-01, 1.5\n\n2020-01-02,2.5\n2020-01-03,3.5\n\n",
], ids=["comma", "semicolon-decimal-comma", "tab", "crlf", "bom-spaces-blank-lines"])
def test_delimiters_and_decimal_comma(text: str):
    check_daily(read(text))


# --- the time axis ------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "freq", "expected"), [
    ("2020-01-01", "D", "D"),
    ("2020-01-01", "h", "h"),
    ("2020-01-01", "15min", "15min"),
    ("2020-01-05", "W-SUN", "W-SUN"),
    ("2020-01-01", "W-WED", "W-WED"),
    ("2020-01-01", "MS", "MS"),
    ("2020-01-31", "ME", "ME"),
    ("2020-01-01", "QS", "QS-JAN"),
    ("2020-02-01", "QS-FEB", "QS-FEB"),
    ("2020-01-01", "YS", "YS-JAN"),
])
def test_frequency_is_inferred(start: str, freq: str, expected: str):
    times = pd.date_range(start, periods=6, freq=freq)
    text = "time,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times))
    panel = read(text)
    assert panel.schema.freq == expected
    np.testing.assert_array_equal(panel.times, times.as_unit("ns").to_numpy())
    np.testing.assert_array_equal(panel.values[:, 0], np.arange(6, dtype=np.float64))


@pytest.mark.parametrize(("times", "expected"), [
    (["2020-01-01", "2020-01-02"], "D"),
    (["2020-01-01", "2020-02-01"], "MS"),
    (["2020-01-31", "2020-02-29"], "ME"),
    (["2020-01-01", "2020-04-01"], "QS-JAN"),
    (["2020-01-01", "2021-01-01"], "YS-JAN"),
    (["2020-01-05", "2020-01-12"], "W-SUN"),
    (["2020-01-01 00:00", "2020-01-01 00:30"], "30min"),
])
def test_frequency_of_two_point_series(times: list[str], expected: str):
    panel = read("time,v\n" + "".join(f"{t},{i}\n" for i, t in enumerate(times)))
    assert panel.schema.freq == expected and panel.lengths.tolist() == [2]


def test_frequency_found_between_gaps():
    # no run of five regular rows, but runs of three show the daily step
    text = "date,v\n2020-01-01,1\n2020-01-04,4\n2020-01-05,5\n2020-01-06,6\n"
    panel = read(text)
    assert panel.schema.freq == "D" and panel.filled.tolist() == [2]
    np.testing.assert_array_equal(panel.values[:, 0], np.arange(1, 7, dtype=np.float64))


def test_freq_override_floors_onto_the_grid():
    text = "date,v\n2020-01-01 10:00,1\n2020-01-02 13:30,2\n2020-01-03 23:59,3\n"
    panel = read(text, freq="D")
    assert panel.schema.freq == "D"
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"), [[1], [2], [3]])
    monthly = read("date,v\n2020-01-15,1\n2020-02-03,2\n2020-04-30,4\n", freq="MS")
    assert monthly.schema.freq == "MS" and monthly.filled.tolist() == [1]
    assert_series(monthly, 0, stamps("2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"),
                  [[1], [2], [3], [4]])


def test_freq_override_then_duplicates_policy():
    text = "date,v\n2020-01-01 10:00,1\n2020-01-01 13:00,2\n2020-01-02 09:00,4\n"
    with pytest.raises(DataError, match=r"lines 2 and 3: series 'v' has two rows at 2020-01-01"):
        read(text, freq="D")
    panel = read(text, freq="D", duplicates="mean")
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02"), [[1.5], [4]])


def test_integer_time_steps_use_the_gcd_and_fill_gaps():
    panel = read("t,v\n16,4\n10,1\n12,2\n")
    schema = panel.schema
    assert (schema.time_kind, schema.step, schema.freq) == ("integer", 2, None)
    assert panel.times.dtype == np.int64 and panel.filled.tolist() == [1]
    assert_series(panel, 0, np.array([10, 12, 14, 16]), [[1], [2], [3], [4]])


def test_no_time_column_means_row_order():
    panel = read("v\n3\n1\n2\n")
    assert (panel.schema.time_kind, panel.schema.time_col) == ("none", None)
    assert_series(panel, 0, np.array([0, 1, 2]), [[3], [1], [2]])
    long = read("unique_id,y\na,5\nb,7\na,6\nb,8\nb,9\n")
    assert long.schema.time_kind == "none" and long.ids == ("a", "b")
    assert_series(long, 0, np.array([0, 1]), [[5], [6]])
    assert_series(long, 1, np.array([0, 1, 2]), [[7], [8], [9]])


def test_unsorted_rows_come_out_sorted_with_their_values():
    single = read("date,v\n2020-01-03,3\n2020-01-01,1\n2020-01-04,4\n2020-01-02,2\n")
    assert_series(single, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"),
                  [[1], [2], [3], [4]])
    wide = read("date,a,b\n2020-01-02,2,20\n2020-01-03,3,30\n2020-01-01,1,10\n")
    days = stamps("2020-01-01", "2020-01-02", "2020-01-03")
    assert_series(wide, 0, days, [[1], [2], [3]])
    assert_series(wide, 1, days, [[10], [20], [30]])


@pytest.mark.parametrize(("policy", "value"), [("first", 2), ("last", 4), ("mean", 3),
                                               ("sum", 6)])
def test_duplicate_policies_combine_values(policy: str, value: float, warnings_log):
    text = "date,v\n2020-01-02,2\n2020-01-01,1\n2020-01-03,5\n2020-01-02,4\n"
    panel = read(text, duplicates=policy)
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"), [[1], [value], [5]])
    assert f"combined 1 rows that share a timestamp (--duplicates {policy})" in warnings_log.text


def test_duplicate_sum_of_empty_cells_is_a_gap_not_zero():
    text = "date,v\n2020-01-01,1\n2020-01-02,\n2020-01-02,\n2020-01-03,3\n"
    panel = read(text, duplicates="sum")
    np.testing.assert_array_equal(panel.values[:, 0], f32([1, 2, 3]))
    assert panel.filled.tolist() == [1]


def test_duplicate_timestamps_name_both_lines_and_the_series():
    text = "unique_id,ds,y\nb,2020-01-01,1\na,2020-01-02,2\nb,2020-01-02,3\na,2020-01-02,4\n"
    with pytest.raises(DataError) as caught:
        read(text)
    assert "lines 3 and 5: series 'a' has two rows at 2020-01-02" in str(caught.value)


def test_mixed_time_zones_need_utc():
    text = ("date,v\n2020-01-01T01:00+01:00,1\n2020-01-02T02:00+02:00,2\n"
            "2020-01-03T01:00+01:00,3\n")
    with pytest.raises(DataError, match="--utc"):
        read(text)
    panel = read(text, utc=True)
    assert panel.schema.tz == "UTC" and panel.schema.freq == "D"
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"), [[1], [2], [3]])


def test_one_time_zone_is_kept_with_local_wall_times():
    text = "date,v\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+01:00,2\n2020-01-03T00:00+01:00,3\n"
    panel = read(text)
    assert panel.schema.tz == "UTC+01:00"
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"), [[1], [2], [3]])


def test_dates_with_and_without_time_of_day_mix():
    panel = read("date,v\n2020-01-01 00:00:00,1\n2020-01-02,2\n2020-01-03 00:00,3\n")
    assert panel.schema.freq == "D" and panel.lengths.tolist() == [3]


# --- missing values -----------------------------------------------------------------------

GAPPY = "date,v\n2020-01-01,1\n2020-01-02,\n2020-01-04,4\n2020-01-05,5\n2020-01-06,6\n"


@pytest.mark.parametrize(("fill", "expected"), [("linear", [2, 3]), ("ffill", [1, 1]),
                                                ("zero", [0, 0])])
def test_fill_policies(fill: str, expected: list[float], warnings_log):
    panel = read(GAPPY, fill=fill)  # 01-02 is an empty cell, 01-03 a missing row
    assert panel.filled.tolist() == [2]
    assert_series(panel, 0, stamps(*(f"2020-01-0{d}" for d in range(1, 7))),
                  [[1], [expected[0]], [expected[1]], [4], [5], [6]])
    assert "filled 2 missing point(s) in 1 series" in warnings_log.text


def test_fill_error_names_the_series_and_the_first_gap():
    with pytest.raises(DataError) as caught:
        read(GAPPY, fill="error")
    assert "series 'v' has 2 missing point(s), the first at 2020-01-02" in str(caught.value)


def test_filled_counts_per_series_and_features_are_filled_too():
    text = ("unique_id,ds,y,x\na,2020-01-01,1,1\na,2020-01-02,2,2\na,2020-01-03,3,3\n"
            "b,2020-01-01,10,0\nb,2020-01-02,NaN,\nb,2020-01-04,40,6\n")
    panel = read(text, features=("x",))
    assert panel.filled.tolist() == [0, 2]
    assert_series(panel, 1, stamps(*(f"2020-01-0{d}" for d in range(1, 5))),
                  [[10, 0], [20, 2], [30, 4], [40, 6]])


def test_edges_are_trimmed_per_series():
    text = ("date,early,late,both\n2020-01-01,1,,\n2020-01-02,2,,7\n2020-01-03,3,30,8\n"
            "2020-01-04,,40,\n")
    panel = read(text)
    assert panel.ids == ("early", "late", "both") and panel.filled.tolist() == [0, 0, 0]
    assert_series(panel, 0, stamps("2020-01-01", "2020-01-02", "2020-01-03"), [[1], [2], [3]])
    assert_series(panel, 1, stamps("2020-01-03", "2020-01-04"), [[30], [40]])
    assert_series(panel, 2, stamps("2020-01-02", "2020-01-03"), [[7], [8]])


def test_empty_wide_column_is_left_out_with_a_warning(warnings_log):
    panel = read("date,a,none,b\n2020-01-01,1,,4\n2020-01-02,2,,5\n2020-01-03,3,,6\n")
    assert panel.ids == ("a", "b")
    assert "series 'none' has no values and is left out" in warnings_log.text
    with pytest.raises(DataError, match="no values in 'a', 'b'"):
        read("date,a,b\n2020-01-01,,\n2020-01-02,,\n2020-01-03,,\n")


# --- bad input: one line naming file, column and line -------------------------------------

BAD = [  # (id, file contents, options, substrings the message must hold)
    ("empty", "", {}, ["file is empty"]),
    ("whitespace", "  \n\t\n \n", {}, ["file is empty"]),
    ("header-only", "date,v\n", {}, ["header but no data rows"]),
    ("no-numeric", "date,name\n2020-01-01,a\n2020-01-02,b\n", {},
     ["no numeric value column", "columns: date, name"]),
    ("text-cell", "date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,x\n2020-01-04,4\n"
     "2020-01-05,y\n2020-01-06,6\n", {}, ["line 4", "column 'v'", "'x'", "not a number"]),
    ("inf", "date,v\n2020-01-01,1\n2020-01-02,inf\n2020-01-03,3\n", {},
     ["line 3", "column 'v'", "infinite"]),
    ("too-large", "date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,1e39\n", {},
     ["line 4", "column 'v'", "too-large"]),
    ("unknown-time-col", "date,v\n2020-01-01,1\n", {"time_col": "when"},
     ["no column 'when' (the time column, --time-col)", "the columns are date, v"]),
    ("unknown-target", "date,v\n2020-01-01,1\n", {"targets": ("w",)},
     ["no column 'w' (the target, --target)", "the columns are date, v"]),
    ("unknown-feature", "date,v\n2020-01-01,1\n", {"features": ("w",)},
     ["no column 'w' (the feature, --features)", "the columns are date, v"]),
    ("unknown-id-col", "date,v\n2020-01-01,1\n", {"id_col": "series"},
     ["no column 'series' (the id column, --id-col)", "the columns are date, v"]),
    ("duplicate-names", "date,v,v\n2020-01-01,1,2\n", {}, ["duplicate column name 'v'"]),
    ("duplicate-names-cr", "date,v, v\r2020-01-01,1,2\r", {}, ["duplicate column name 'v'"]),
    ("blank-lines-above-header", "\n\ndate,v\n2020-01-01,1\n2020-01-02,x\n2020-01-03,3\n"
     "2020-01-04,4\n", {}, ["line 5", "column 'v'", "'x'"]),
    ("ragged", "date,v\n2020-01-01,1\n2020-01-02,2,9\n2020-01-03,3\n", {},
     ["line 3", "3 fields", "2 columns"]),
    ("one-field-more", "date,v\n2020-01-01,1,\n2020-01-02,2,\n", {},
     ["line 2", "one field more than the header"]),
    ("one-field-more-long", "unique_id,ds\nNA,1,2\nNA,2,3\n", {},  # found by fuzzing
     ["line 2", "one field more than the header"]),
    ("bad-date", "date,v\n2020-01-01,1\n2020-13-45,2\n2020-01-03,3\n", {},
     ["column 'date'", "line 3", "'2020-13-45'"]),
    ("mixed-date-formats", "date,v\n01/02/2020,1\n01/03/2020,2\n2020-01-04,3\n", {},
     ["column 'date'", "line 4", "'2020-01-04'", "format of line 2"]),
    ("date-out-of-range", "date,v\n2020-01-01,1\n1600-01-01,2\n", {},
     ["column 'date'", "line 3", "'1600-01-01'"]),
    ("empty-time", "date,v\n2020-01-01,1\n,2\n2020-01-03,3\n", {},
     ["column 'date'", "line 3", "empty time value"]),
    ("fractional-step", "t,v\n1,1\n2.5,2\n", {}, ["column 't'", "line 3", "2.5"]),
    ("step-out-of-range", "t,v\n-9223372036854775808,1\n9223372036854775807,2\n", {},
     ["column 't'", "line 2", "at most 18 digits"]),
    ("empty-id", "unique_id,ds,y\na,2020-01-01,1\n,2020-01-02,2\n", {},
     ["line 3", "empty series id", "'unique_id'"]),
    ("nul-bytes", b"date,v\n2020-01-01,1\x00\n", {}, ["binary data"]),
    ("latin-1", "date,v\n2020-01-01,1\n2020-01-02,2\ncaf\xe9,3\n".encode("latin-1"), {},
     ["line 4", "not UTF-8", "0xe9"]),
    ("truncated-gzip", gzip.compress(DAILY.encode() * 50)[:60], {}, ["truncated or corrupt gzip"]),
    ("duplicate-times", "date,v\n2020-01-01,1\n2020-01-01,2\n2020-01-02,3\n", {},
     ["column 'date'", "lines 2 and 3", "series 'v'", "--duplicates"]),
    ("mixed-tz", "date,v\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+02:00,2\n", {},
     ["column 'date'", "mix time zones", "--utc"]),
    ("mixed-tz-guessed-column", "when,v\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+02:00,2\n",
     {}, ["column 'when'", "mix time zones", "--utc"]),
    ("irregular", "date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-05,3\n2020-01-17,4\n"
     "2020-02-09,5\n", {}, ["column 'date'", "cannot infer a regular frequency", "--freq"]),
    ("monthly-on-the-5th", "date,v\n2020-01-05,1\n2020-02-05,2\n2020-03-05,3\n2020-04-05,4\n"
     "2020-05-05,5\n", {}, ["cannot infer a regular frequency", "--freq MS (the typical step "
                          "is 30 days; --freq floors each time onto its grid)"]),
    ("hourly-seconds-off", "date,v\n2020-01-01 00:00:01,1\n2020-01-01 01:00:00,2\n"
     "2020-01-01 02:00:02,3\n2020-01-01 03:00:00,4\n", {},
     ["cannot infer a regular frequency", "--freq h (the typical step"]),
    ("long-without-y", "unique_id,ds,a,b\nk,2020-01-01,1,2\nk,2020-01-02,3,4\n", {},
     ["several value columns (a, b)", "--target"]),
    ("freq-on-integers", "t,v\n1,1\n2,2\n3,3\n", {"freq": "D"},
     ["column 't'", "--freq applies to date/time columns"]),
    ("freq-without-time", "v\n1\n2\n3\n", {"freq": "D"}, ["--freq applies to date/time"]),
    ("bad-freq-alias", DAILY, {"freq": "fortnightly"}, ["--freq 'fortnightly'"]),
    ("zero-freq", DAILY, {"freq": "0D"}, ["--freq '0D'", "positive step"]),
    ("fill-error", GAPPY, {"fill": "error"}, ["column 'date'", "series 'v'", "2020-01-02"]),
    ("bool-target", "date,v,w\n2020-01-01,true,1\n2020-01-02,false,2\n", {"targets": ("v",)},
     ["column 'v'", "true/false"]),
    ("all-empty", "date,v\n2020-01-01,\n2020-01-02,\n", {}, ["no values in 'v'"]),
    ("huge-step-gap", "t,v\n0,1\n1,2\n100000000000,3\n", {},
     ["column 't'", "series 'v'", "check the time column"]),
    ("quoted-line-break", 'date,v,note\n2020-01-01,1,"two\nlines"\n2020-01-02,x,ok\n'
     "2020-01-03,3,ok\n2020-01-04,4,ok\n", {}, ["line 4", "column 'v'", "'x'"]),
    ("unclosed-quote", 'date,v\n2020-01-01,1\n2020-01-02,"2\n2020-01-03,3\n', {},
     ["line 3", "quoted field is never closed"]),
]


@pytest.mark.parametrize(("content", "options", "expected"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_input_gives_one_line_data_error(tmp_path: Path, content: str | bytes,
                                             options: dict, expected: list[str]):
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    with pytest.raises(DataError) as caught:
        read_panel(path, FitConfig(**options))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    for part in expected:
        assert part in message


def test_bad_sources(tmp_path: Path):
    with pytest.raises(DataError) as caught:
        read_panel(tmp_path)
    assert str(caught.value) == (f"{tmp_path}: is a directory, not a CSV file; give the path "
                                 f"of a file")
    with pytest.raises(DataError) as caught:
        read_panel(tmp_path / "missing.csv")
    assert str(caught.value) == f"{tmp_path / 'missing.csv'}: no such file; check the path"


@pytest.mark.parametrize(("args", "data"), [
    (["inspect", "{dir}/missing.csv"], None),
    (["inspect", "-"], b""),
    (["inspect", "-"], "date,v\n2020-01-01,1\ncaf\xe9,2\n".encode("latin-1")),
    (["inspect", "-"], "date,v\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+02:00,2\n"),
    (["inspect", "-", "--freq", "D"], "t,v\n1,1\n2,2\n3,3\n"),
    (["inspect", "-", "--json"], "date,v\n2020-01-01,1\n2020-01-02,x\n2020-01-03,3\n"),
], ids=["missing-file", "empty-stdin", "latin-1", "mixed-tz", "freq-on-integers", "text-cell"])
def test_cli_bad_input_exit_2_with_one_error_line(tmp_path: Path, args: list[str], data):
    result = run_cli([a.format(dir=tmp_path) for a in args], input=data)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("forecastr: error: ") and "Traceback" not in result.stderr


# --- the bundled sample data --------------------------------------------------------------


def test_sample_single():
    panel = read_panel(SAMPLE_DATA / "single.csv")
    assert (panel.ids, panel.lengths.tolist(), panel.schema.freq) == (("sales",), [204], "MS")
    assert panel.schema.layout == "single" and panel.times[0] == np.datetime64("1991-07-01")
    assert panel.values[0, 0] == np.float64(3.526591)


def test_sample_wide():
    panel = read_panel(SAMPLE_DATA / "wide.csv")
    assert panel.schema.layout == "wide" and panel.schema.freq == "QS-JAN"
    assert panel.n_series == 20 and panel.lengths.tolist() == [76] * 20
    assert panel.ids[:3] == ("NSWMetro", "NSWNthCo", "NSWSthCo") and panel.ids[-1] == "OTHNoMet"
    assert panel.values[0, 0] == np.float64(9.0470953969)


def test_sample_long():
    panel = read_panel(SAMPLE_DATA / "long.csv")
    assert panel.schema.layout == "long" and panel.schema.freq == "MS"
    assert panel.lengths.tolist() == [237, 213, 189, 165, 141, 117, 93, 81]
    assert panel.ids[0] == "leisure_hospitality" and panel.ids[-1] == "financial_activities"
    assert panel.filled.sum() == 0


def test_sample_gaps_fills_the_missing_weeks():
    panel = read_panel(SAMPLE_DATA / "gaps.csv")
    assert (panel.lengths.tolist(), panel.schema.freq, panel.filled.tolist()) == (
        [313], "W-SAT", [39])
    assert (panel.times[0], panel.times[-1]) == (np.datetime64("1962-01-06"),
                                                 np.datetime64("1967-12-30"))
    with open(SAMPLE_DATA / "gaps.csv", newline="") as handle:
        rows = dict(list(csv.reader(handle))[1:])
    # 1963-03-16 was deleted from the file: linear fill is the mean of its two neighbours
    at = int(np.flatnonzero(panel.times == np.datetime64("1963-03-16"))[0])
    expected = (float(rows["1963-03-09"]) + float(rows["1963-03-23"])) / 2
    assert panel.values[at, 0] == np.float64(expected)


def test_sample_hourly_with_features():
    panel = read_panel(SAMPLE_DATA / "hourly.csv",
                       FitConfig(targets=("demand",), features=("temperature", "workday")))
    assert (panel.n_series, panel.lengths.tolist(), panel.schema.freq) == (1, [1344], "h")
    assert panel.schema.channels == ("demand", "temperature", "workday")
    assert panel.values.shape == (1344, 3)
    np.testing.assert_array_equal(panel.values[0], f32([3.793598, 18.05, 0]))


# --- property-based: round trips and fuzzing ----------------------------------------------

FREQS = {"D": pd.offsets.Day(1), "MS": pd.offsets.MonthBegin(1)}
NUMBERS = st.floats(-1e6, 1e6, allow_nan=False, width=32).map(float)


@st.composite
def long_panels(draw: st.DrawFn) -> tuple[str, dict[str, list], str]:
    """A long CSV with shuffled rows and holes (empty cells, missing rows), plus the expected
    series: id -> list of (time, value or None) in time order."""
    kind = draw(st.sampled_from(["D", "MS", "integer"]))
    step = draw(st.integers(1, 3)) if kind == "integer" else 1
    ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), min_size=1,
                        max_size=4, unique=True))
    expected, rows = {}, []
    for number, name in enumerate(ids):
        length = draw(st.integers(3, 10))
        start = draw(st.integers(-5, 5))
        values = draw(st.lists(NUMBERS, min_size=length, max_size=length))
        # interior holes only, and none in the first series, so that it shows the frequency
        holes = set() if number == 0 else set(draw(st.lists(st.integers(1, length - 2),
                                                            max_size=length // 2)))
        series = []
        for i in range(length):
            if kind == "integer":
                time: object = (start + i) * step
            else:
                time = pd.Timestamp("2001-01-01") + FREQS[kind] * (start + 10 + i)
            value = None if i in holes else values[i]
            series.append((time, value))
            if value is not None or draw(st.booleans()):  # a hole is a missing row or cell
                cell = "" if value is None else repr(value)
                text_time = time if kind == "integer" else time.strftime("%Y-%m-%d")
                rows.append(f"{name},{text_time},{cell}\n")
        expected[name] = series
    order = draw(st.permutations(range(len(rows))))
    return "unique_id,ds,y\n" + "".join(rows[i] for i in order), expected, kind


@settings(max_examples=150, deadline=None, derandomize=True)
@given(long_panels())
def test_long_round_trip(case: tuple[str, dict[str, list], str]):
    text, expected, kind = case
    panel = read(text)
    first_rows = {}
    for line in text.splitlines()[1:]:
        first_rows.setdefault(line.split(",")[0], len(first_rows))
    assert panel.ids == tuple(sorted(expected, key=first_rows.__getitem__))
    assert panel.schema.time_kind == ("integer" if kind == "integer" else "datetime")
    assert panel.schema.freq == (None if kind == "integer" else kind)
    for s, name in enumerate(panel.ids):
        values, times = panel.series(s)
        want_times = [t for t, _ in expected[name]]
        if kind == "integer":
            np.testing.assert_array_equal(times, np.array(want_times, dtype=np.int64))
        else:
            np.testing.assert_array_equal(times, pd.DatetimeIndex(want_times).as_unit("ns"))
        known = np.array([v is not None for _, v in expected[name]])
        observed = np.array([np.nan if v is None else v for _, v in expected[name]])
        steps = np.arange(len(observed))
        filled = observed.copy()
        filled[~known] = np.interp(steps[~known], steps[known], observed[known])
        np.testing.assert_array_equal(values[:, 0], filled.astype(np.float64))
        assert panel.filled[s] == (~known).sum()


@st.composite
def wide_panels(draw: st.DrawFn) -> tuple[str, list[list[float | None]]]:
    """A wide daily CSV whose columns start and end at different rows and have holes."""
    length = draw(st.integers(3, 12))
    columns = []
    for _ in range(draw(st.integers(1, 4))):
        lo = draw(st.integers(0, length - 2))
        hi = draw(st.integers(lo + 2, length))
        values = draw(st.lists(NUMBERS, min_size=hi - lo, max_size=hi - lo))
        inner = st.lists(st.integers(lo + 1, hi - 2), max_size=2) if hi - lo > 2 else st.just([])
        holes = set(draw(inner))
        columns.append([values[i - lo] if lo <= i < hi and i not in holes else None
                        for i in range(length)])
    days = pd.date_range("2020-02-27", periods=length, freq="D")
    header = "date," + ",".join(f"c{j}" for j in range(len(columns))) + "\n"
    lines = [f"{day:%Y-%m-%d}," + ",".join("" if col[i] is None else repr(col[i])
                                            for col in columns) + "\n"
             for i, day in enumerate(days)]
    order = draw(st.permutations(range(length)))
    return header + "".join(lines[i] for i in order), columns


@settings(max_examples=150, deadline=None, derandomize=True)
@given(wide_panels())
def test_wide_round_trip(case: tuple[str, list[list[float | None]]]):
    text, columns = case
    panel = read(text)
    assert panel.ids == tuple(f"c{j}" for j in range(len(columns)))
    days = pd.date_range("2020-02-27", periods=len(columns[0]), freq="D").as_unit("ns")
    for s, column in enumerate(columns):
        known = np.array([v is not None for v in column])
        lo, hi = np.flatnonzero(known)[[0, -1]]
        observed = np.array([np.nan if v is None else v for v in column])[lo:hi + 1]
        steps, inner = np.arange(len(observed)), known[lo:hi + 1]
        observed[~inner] = np.interp(steps[~inner], steps[inner], observed[inner])
        values, times = panel.series(s)
        np.testing.assert_array_equal(times, days[lo:hi + 1])
        np.testing.assert_array_equal(values[:, 0], observed.astype(np.float64))
        assert panel.filled[s] == (~inner).sum()


CELLS = st.one_of(
    st.sampled_from(["", " ", "1", "-2.5", "1e39", "inf", "-inf", "nan", "NA", "true", "x",
                     "0", "3,5", '"4"', '"a\nb"', "1e-50", "9223372036854775808", "-1e18",
                     "2020-01-01", "2020-01-02", "2020-01-05 10:00", "2020-02-01",
                     "2020-01-01T00:00+01:00", "2020-01-01T00:00+02:00", "1600-01-01",
                     "2262-04-11", "1677-09-21", "01/02/2020", "now", "é", "a", "b"]),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(str),
    st.datetimes().map(str),
    st.text(max_size=6),
)
NAMES = st.sampled_from(["unique_id", "ds", "y", "date", "v", "w", "t", "", " v", "x"])


@st.composite
def chaotic_rows(draw: st.DrawFn) -> list[list[str]]:
    """Any names, any cells, rows of uneven width: mostly early, whole-file errors."""
    width = draw(st.integers(1, 4))
    header = draw(st.lists(NAMES, min_size=width, max_size=width))
    return [header, *draw(st.lists(st.lists(CELLS, min_size=width - 1, max_size=width + 1),
                                   max_size=12))]


HEADERS = [["date", "v"], ["date", "v", "w"], ["unique_id", "ds", "y"], ["t", "v"], ["v"],
           ["unique_id", "ds", "y", "x"], ["date", "v", "x"], ["unique_id", "v"]]
STEPS = {"D": pd.offsets.Day(1), "h": pd.offsets.Hour(1), "MS": pd.offsets.MonthBegin(1),
         "W": pd.offsets.Week(weekday=6), "30min": pd.offsets.Minute(30)}
ODD_VALUES = st.sampled_from(["nan", "x", "inf", "1e39", "2,5", "-0", "1e-50", "true"])


@st.composite
def value_cells(draw: st.DrawFn) -> str:
    """Mostly numbers, some empty cells, rarely something odd."""
    roll = draw(st.integers(0, 39))
    return draw(ODD_VALUES) if roll == 0 else "" if roll < 5 else repr(
        draw(st.floats(-1e6, 1e6, width=32)))


@st.composite
def time_cells(draw: st.DrawFn) -> list[str]:
    """A time column: steps of one frequency, with skips, repeats, odd cells and any order."""
    n = draw(st.integers(0, 14)) if draw(st.integers(0, 9)) == 0 else draw(st.integers(3, 14))
    kind = draw(st.sampled_from([*STEPS, *STEPS, "integer", "integer", "noise"]))
    ks = np.cumsum(draw(st.lists(st.sampled_from([0, 1, 1, 1, 1, 2, 3]), min_size=n,
                                 max_size=n)))
    if kind == "integer":
        cells = [str(int(k) * draw(st.sampled_from([1, 5]))) for k in ks]
    elif kind == "noise":
        cells = draw(st.lists(CELLS, min_size=n, max_size=n))
    else:
        start = pd.Timestamp(draw(st.datetimes(pd.Timestamp("1990-01-01"),
                                               pd.Timestamp("2030-01-01"))))
        start = start.floor("D") if draw(st.booleans()) else start
        cells = [str(start + STEPS[kind] * int(k)) for k in ks]
    if n and draw(st.integers(0, 3)) == 0:
        cells[draw(st.integers(0, n - 1))] = draw(CELLS)  # now and then an odd cell
    return draw(st.permutations(cells)) if draw(st.booleans()) else cells


@st.composite
def shaped_rows(draw: st.DrawFn) -> list[list[str]]:
    """A plausible header and a plausible time column, so that reading goes deep."""
    header = draw(st.sampled_from(HEADERS))
    times = draw(time_cells())
    rows = []
    for time in times:
        row = [draw(st.sampled_from(["a", "b", "b", "1"] * 9 + [""])) if name == "unique_id" else
               time if name in ("date", "ds", "t") else draw(value_cells()) for name in header]
        rows.append(row + ["9"] if draw(st.integers(0, 99)) == 0 else row)  # rarely ragged
    return [header, *rows]


@st.composite
def csv_texts(draw: st.DrawFn) -> bytes:
    rows = draw(st.one_of(shaped_rows(), shaped_rows(), chaotic_rows()))
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = end.join(sep.join(row) for row in rows) + draw(st.sampled_from(["", end]))
    data = text.encode("utf-8", "surrogatepass")
    return gzip.compress(data) if draw(st.integers(0, 9)) == 0 else data


OPTIONS = st.fixed_dictionaries({  # mostly defaults, so that files are read to the end
    "freq": st.sampled_from([None] * 6 + ["D", "h", "MS", "W", "0D", "nope"]),
    "fill": st.sampled_from(["linear", "linear", "ffill", "zero", "error"]),
    "duplicates": st.sampled_from(["error", "first", "last", "mean", "sum"]),
    "utc": st.booleans(),
    "id_col": st.sampled_from([None] * 20 + ["unique_id", "v"]),
    "time_col": st.sampled_from([None] * 20 + ["ds", "date", "t"]),
    "targets": st.sampled_from([()] * 20 + [("y",), ("v", "w")]),
    "features": st.sampled_from([()] * 20 + [("x",)]),
})


def check_outcome(data: bytes, options: dict) -> None:
    """The only outcomes: a consistent Panel, or a one-line DataError; any other exception
    (pandas', numpy's, a ConfigError) fails the test."""
    cfg = FitConfig(**options)
    try:
        panel = read_panel(io.BytesIO(data), cfg)
    except DataError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("<stream>")
        return
    assert panel.values.dtype == np.float64 and np.isfinite(panel.values).all()
    assert panel.indptr[0] == 0 and (np.diff(panel.indptr) > 0).all()
    assert len(set(panel.ids)) == panel.n_series
    for s in range(panel.n_series):
        assert (np.diff(panel.series(s)[1]).astype(np.int64) > 0).all()  # sorted, unique


# derandomize: the same examples on every run of the same code and test selection; a longer
# campaign (FORECASTR_FUZZ_EXAMPLES=20000) draws new examples on each run instead
FUZZ_EXAMPLES = os.environ.get("FORECASTR_FUZZ_EXAMPLES")


@settings(max_examples=int(FUZZ_EXAMPLES or 300), deadline=None, derandomize=not FUZZ_EXAMPLES,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(csv_texts(), st.binary(max_size=200),
                 st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))),
       OPTIONS)
def test_fuzz_panel_or_data_error(data: bytes, options: dict):
    check_outcome(data, options)


def test_numbers_with_thousands_separators_are_read_not_dropped(tmp_path, caplog):
    point = tmp_path / "point.csv"  # before: the column vanished from the targets silently
    point.write_text('ds,sales,note\n2020-01-01,"2,710.349",a\n2020-02-01,"12,000",b\n'
                     '2020-03-01,999.5,c\n2020-04-01,"1,001.5",d\n')
    comma = tmp_path / "comma.csv"
    comma.write_text("ds;sales\n2020-01-01;2.710,349\n2020-02-01;12.000\n2020-03-01;999,5\n"
                     "2020-04-01;1.001,5\n")
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        for path in (point, comma):
            panel = read_panel(path)
            assert panel.schema.targets == ("sales",)
            assert panel.values[:, 0].tolist() == [2710.349, 12000.0, 999.5, 1001.5]
    assert "left out 1 column(s) that do not hold numbers: note (e.g. 'a'); they are not " \
           "forecast (--target chooses the targets)" in caplog.text


def test_only_strict_groups_of_three_are_thousands():
    from forecastr.data.csv_text import _grouped_numbers

    assert _grouped_numbers(pd.Series(["1,5", "2,25"]), ".") is None  # not 15 and 225
    assert _grouped_numbers(pd.Series(["01.02.2020"]), ",") is None  # a date, not 1022020
    assert _grouped_numbers(pd.Series(["1,234", None, ""]), ".").tolist()[0] == 1234.0
    assert _grouped_numbers(pd.Series(["12", "7.5"]), ".") is None  # plain: pandas' job


def test_a_year_column_and_a_quarter_column_are_one_time_column(tmp_path, cli):
    # statsmodels' macrodata has them; before, the years read as the time column and the
    # hint was --duplicates, which would have averaged four quarters into each year
    rows = [(year, quarter, 100.0 + 4 * (year - 1959) + quarter, 2.0)
            for year in range(1959, 1971) for quarter in range(1, 5)]
    data = tmp_path / "macro.csv"
    pd.DataFrame(rows, columns=["year", "quarter", "realgdp", "infl"]).to_csv(data, index=False)
    panel = read_panel(data)
    assert panel.schema.time_col == "year_quarter" and panel.schema.freq.startswith("QS")
    assert panel.schema.targets == ("realgdp", "infl") and panel.lengths.tolist() == [48, 48]
    assert str(panel.times[0])[:10] == "1959-01-01" and str(panel.times[5])[:10] == "1960-04-01"
    model = tmp_path / "m.fcst"
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window", "8",
                "--horizon", "4", "--val-windows", "1"]).exit_code == 0
    forecast = cli(["predict", model, data])  # the model reads the same two columns again
    assert forecast.exit_code == 0, forecast.stderr
    assert forecast.stdout.splitlines()[1].startswith("1971-01-01,")
    months = pd.DataFrame({"year": [2020] * 12, "month": range(1, 13), "y": range(12)})
    assert str(read_panel(io.BytesIO(months.to_csv(index=False).encode())).times[11])[:10] == \
        "2020-12-01"


def test_parquet_in_and_out(tmp_path, cli, monkeypatch):
    frame = pd.read_csv(SAMPLE_DATA / "long.csv")
    frame["ds"] = pd.to_datetime(frame["ds"])
    data, model, out = tmp_path / "long.parquet", tmp_path / "m.fcst", tmp_path / "f.parquet"
    frame.to_parquet(data, index=False)
    from_csv, from_parquet = read_panel(SAMPLE_DATA / "long.csv"), read_panel(data)
    assert from_parquet.ids == from_csv.ids and from_parquet.schema == from_csv.schema
    assert (from_parquet.values == from_csv.values).all()
    assert (from_parquet.times == from_csv.times).all()
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2"]).exit_code == 0
    assert cli(["predict", model, data, "-o", out]).exit_code == 0  # Parquet by its suffix
    written = pd.read_parquet(out)
    as_csv = pd.read_csv(io.StringIO(cli(["predict", model, SAMPLE_DATA / "long.csv"]).stdout))
    assert list(written.columns) == ["unique_id", "ds", "y"] and len(written) == len(as_csv)
    np.testing.assert_allclose(written["y"], as_csv["y"], rtol=1e-7)
    refused = cli(["predict", model, data, "--format", "parquet"])
    assert refused.exit_code == 2 and "--format parquet writes a binary file" in refused.stderr
    # the library infers the format from the name as the command does
    from forecastr import predict

    out.unlink()
    returned = predict(model, data, output=out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), written)
    assert len(returned) == len(written)

    def without_pyarrow(*args, **kwargs):
        raise ImportError("pyarrow")

    monkeypatch.setattr(pd, "read_parquet", without_pyarrow)
    missing = cli(["inspect", data])
    assert missing.exit_code == 2 and missing.stderr == (
        f"forecastr: error: {data}: reading Parquet needs pyarrow: pip install pyarrow (or, "
        f"from a checkout of forecastr, pip install -e '.[parquet]')\n")


def test_a_long_files_unused_columns_are_named_with_how_to_use_them(cli, tmp_path, caplog):
    data = tmp_path / "promo.csv"
    rows = [f"{s},2020-01-{d:02d},{d + 3 * (s == 'b')},{d % 2},{'big' if s == 'a' else 'small'}"
            for s in ("a", "b") for d in range(1, 29)]
    data.write_text("unique_id,ds,y,promo,store_type\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        read_panel(data)
    assert "2 column(s) not used: promo, store_type; to use them, name them with --features " \
           "(known up to each time), --future-features (known ahead too) or " \
           "--static-features (one value per series)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        read_panel(data, FitConfig(future_features=("promo",), static_features=("store_type",)))
    assert "not used" not in caplog.text
    shown = cli(["inspect", data])  # inspect says so too
    assert shown.exit_code == 0 and "not used: promo, store_type" in shown.stderr
    # predict reads only the columns its model was fitted on: no word about the rest
    model = tmp_path / "m.fcst"
    assert cli(["fit", data, "-o", model, "--horizon", "2", "--window", "4", "--max-steps",
                "2", "--hidden", "4"]).exit_code == 0
    predicted = cli(["predict", model, data])
    assert predicted.exit_code == 0 and "not used" not in predicted.stderr


def test_a_long_id_is_cut_short_in_messages(cli, tmp_path):
    from forecastr.data.panel import shown_id

    assert shown_id("s1") == "'s1'"
    assert shown_id("x" * 1_000_000) == "'" + "x" * 36 + "...'"
    huge = "z" * 1_000_000  # a whole line of text read as an id, once
    rows = [f"a,2020-01-{d:02d},{d}" for d in range(1, 29)] + [f"{huge},2020-01-01,1"]
    (tmp_path / "d.csv").write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    result = cli(["fit", tmp_path / "d.csv", "-o", tmp_path / "m.fcst", "--max-steps", "1",
                  "--window", "4", "--horizon", "2"])
    assert result.exit_code == 0, result.stderr[:500]
    assert "skipped 1 series shorter than" in result.stderr
    assert max(len(line) for line in result.stderr.splitlines()) < 500
