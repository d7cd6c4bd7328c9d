"""pyarrow's reading of a plain CSV gives the very table, panel and message that pandas'
reading gives; the files it cannot be sure of go to pandas."""

from __future__ import annotations

import dataclasses
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from forecastr.config import FitConfig
from forecastr.data import arrow_csv
from forecastr.data.csv_text import parse_csv, sniff_delimiter
from forecastr.data.panel import Panel
from forecastr.data.reader import read_panel
from forecastr.data.source import open_source
from forecastr.errors import DataError
from tests.conftest import SAMPLE_DATA
from tests.test_reader import BAD, csv_texts

pytest.importorskip("pyarrow")
IDS = ("unique_id",)


def by_pandas(action):
    """`action()` with pyarrow's reader left out: every file read by pandas."""
    kept = arrow_csv.SMALLEST
    arrow_csv.SMALLEST = 1 << 62
    try:
        return action()
    finally:
        arrow_csv.SMALLEST = kept


def outcome(action):
    """What `action()` gives, or the message of its DataError."""
    try:
        return action()
    except DataError as exc:
        return str(exc)


def assert_same_table(got, expected) -> None:
    assert type(got) is type(expected)
    if isinstance(expected, str):
        assert got == expected
        return
    pd.testing.assert_frame_equal(got[0], expected[0], check_exact=True)
    np.testing.assert_array_equal(got[1], expected[1])


def assert_same_panel(got: Panel | str, expected: Panel | str) -> None:
    assert type(got) is type(expected)
    if isinstance(expected, str):
        assert got == expected
        return
    for field in dataclasses.fields(Panel):
        a, b = getattr(got, field.name), getattr(expected, field.name)
        if field.name == "static":
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, strict=True)
        else:
            assert a == b, field.name


@pytest.fixture(autouse=True)
def every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow reads files of any size here: the small files below stand for large ones."""
    monkeypatch.setattr(arrow_csv, "SMALLEST", 0)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


LONG = "".join(f"s{s},2020-01-{d:02d},{s * 10 + d}.25\n" for s in range(3) for d in range(1, 9))
PLAIN = {  # files pyarrow reads; each must give pandas' table
    "long": "unique_id,ds,y\n" + LONG,
    "crlf": ("unique_id,ds,y\n" + LONG).replace("\n", "\r\n"),
    "bom": "\ufeffunique_id,ds,y\n" + LONG,
    "ids-as-written": "unique_id,ds,y\n007,2020-01-01,1\n007,2020-01-02,2\n7,2020-01-01,3\n"
                      "7,2020-01-02,4\n",
    "gaps-and-na-texts": "unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,\na,2020-01-03,NA\n"
                         "a,2020-01-04,nan\na,2020-01-05,null\na,2020-01-06,6\n",
    "blank-lines-inside-and-after": "date,v\n2020-01-01,1\n\n2020-01-02,2\n2020-01-03,3\n\n\n",
    "ints-then-a-gap": "date,a,b\n2020-01-01,1,1.5\n2020-01-02,,2.5\n2020-01-03,3,\n",
    "an-empty-column": "date,a,b\n2020-01-01,1,\n2020-01-02,2,\n2020-01-03,3,\n",
    "plus-signs-in-floats": "date,v\n2020-01-01,1.5\n2020-01-02,+2\n2020-01-03,-3e2\n",
    "trailing-spaces": "date,v,w\n2020-01-01,1 ,a \n2020-01-02,2 ,b\n2020-01-03,3,c\n",
    "spaces-in-numbers": "date,v\n2020-01-01, 1\n2020-01-02, 2.5\n2020-01-03,3\n",
    "tabs-in-text": "date,v,w\n2020-01-01,1,\ta\n2020-01-02,2,b\n2020-01-03,3,c\n",
    "time-zones": "unique_id,ds,y\na,2020-01-01T00:00+01:00,1\na,2020-01-01T01:00+01:00,2\n"
                  "a,2020-01-01T02:00+01:00,3\n",
    "dd/mm": "date,v\n13/01/2020,1\n14/01/2020,2\n15/01/2020,3\n",
    "text-cell-in-the-first-rows": "date,v\n" + "".join(
        f"2020-01-{d:02d},{'oops' if d == 8 else d}\n" for d in range(1, 12)),
    "semicolons": "date;v;w\n2020-01-01;1.5;2\n2020-01-02;2.5;3\n2020-01-03;3.5;4\n",
    "tabs": "date\tv\n2020-01-01\t1\n2020-01-02\t2\n2020-01-03\t3\n",
    "pipes": "date|v\n2020-01-01|1\n2020-01-02|2\n2020-01-03|3\n",
    "year-and-quarter": "year,quarter,v\n2019,1,1\n2019,2,2\n2019,3,3\n2019,4,4\n2020,1,5\n",
    "integer-steps": "t,v\n1,1\n2,2\n3,3\n5,5\n",
}
LATE = "".join(f"s,{pd.Timestamp('2020-01-01') + pd.Timedelta(hours=h):%Y-%m-%dT%H:%M},{h}\n"
               for h in range(4000))  # past the first block, which decides the types
TO_PANDAS = {  # files pyarrow leaves to pandas; each still reads as before
    "quoted": 'date,v,note\n2020-01-01,1,"a, b"\n2020-01-02,2,c\n',
    "leading-space-in-an-id": "unique_id,ds,y\n a,2020-01-01,1\n a,2020-01-02,2\n",
    "leading-space-in-text": "date,v,w\n2020-01-01,1, NA\n2020-01-02,2,b\n",
    "true-false": "date,v,w\n2020-01-01,1,true\n2020-01-02,2,false\n",
    "na-id": "unique_id,ds,y\nNA,2020-01-01,1\nNA,2020-01-02,2\n",
    "blank-line-in-a-long-file": "unique_id,ds,y\na,2020-01-01,1\n\na,2020-01-02,2\n",
    "float-after-the-sample": "unique_id,ds,y\n" + LATE + "s,2020-07-01T00:00,1.5\n",
    "plus-after-the-sample": "unique_id,ds,y\n" + LATE + "s,2020-07-01T00:00,+5\n",
    "text-after-the-sample": "unique_id,ds,y\n" + LATE + "s,2020-07-01T00:00,oops\n",
    "ragged": "date,v\n2020-01-01,1\n2020-01-02,2,9\n",
    "one-field-more": "date,v\n2020-01-01,1,\n2020-01-02,2,\n",
    "unnamed-column": "date,v,\n2020-01-01,1,\n2020-01-02,2,\n",
    "spaces-only-line": "date,v\n2020-01-01,1\n   \n2020-01-02,2\n",
}


@pytest.mark.parametrize("name", PLAIN)
def test_pyarrow_gives_pandas_table_and_panel(name: str, tmp_path: Path):
    path = write(tmp_path, PLAIN[name])
    source = open_source(path)
    sep = sniff_delimiter(source.sample)
    assert arrow_csv.arrow_frame(source, 0, source.sample, sep, IDS) is not None
    assert_same_table(outcome(lambda: parse_csv(open_source(path), IDS)),
                      by_pandas(lambda: outcome(lambda: parse_csv(open_source(path), IDS))))
    assert_same_panel(outcome(lambda: read_panel(path)),
                      by_pandas(lambda: outcome(lambda: read_panel(path))))


@pytest.mark.parametrize("name", TO_PANDAS)
def test_files_pyarrow_is_unsure_of_go_to_pandas(name: str, tmp_path: Path):
    path = write(tmp_path, TO_PANDAS[name])
    source = open_source(path)
    assert arrow_csv.arrow_frame(source, 0, source.sample, ",", IDS) is None
    assert_same_panel(outcome(lambda: read_panel(path)),
                      by_pandas(lambda: outcome(lambda: read_panel(path))))


LONG_HEAD = "unique_id,ds,y\n" + LATE
TIMES = {  # (file, data options, the time column as pyarrow gives it: M times, O text)
    "iso-forms": ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-01 01:00,2\na,2020-01-01T02,3\n"
                  "a,2020-01-01 03:00:00.000,4\n", {}, "M"),
    "named-time-column": ("date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n",
                          {"time_col": "date"}, "M"),
    "utc": ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,2\na,2020-01-03,3\n", {"utc": True},
            "M"),
    "empty-time-cell": ("unique_id,ds,y\na,2020-01-01,1\na,,2\na,2020-01-03,3\n", {}, "M"),
    "time-zones": ("unique_id,ds,y\na,2020-01-01T00:00+01:00,1\na,2020-01-01T01:00+01:00,2\n",
                   {}, "O"),
    "day-first": ("unique_id,ds,y\na,13/01/2020,1\na,14/01/2020,2\na,15/01/2020,3\n", {}, "O"),
    "date-format-given": ("unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,2\na,2020-01-03,3\n",
                          {"date_format": "%Y-%d-%m"}, "O"),
    "ds-without-ids": ("date,ds,v\n2020-01-01,2020-01-01,1\n2020-01-02,2020-01-02,2\n", {},
                       "O"),
    "other-form-past-the-first-rows": (LONG_HEAD + "s,07/01/2020 00:00,1\n", {}, "O"),
    "out-of-range-past-the-first-rows": (LONG_HEAD + "s,1600-01-01,1\n", {}, "O"),
    "zone-past-the-first-rows": (LONG_HEAD + "s,2020-07-01T00:00Z,1\n", {}, "O"),
}


@pytest.mark.parametrize("name", TIMES)
def test_the_time_column_is_read_as_times_only_when_parse_times_would_read_it_so(
        name: str, tmp_path: Path):
    text, options, kind = TIMES[name]
    path = write(tmp_path, text)
    cfg = FitConfig(**options)
    frame, _ = parse_csv(open_source(path), IDS, cfg)
    assert ("M" in {dtype.kind for dtype in frame.dtypes}) == (kind == "M")
    assert_same_panel(outcome(lambda: read_panel(path, cfg)),
                      by_pandas(lambda: outcome(lambda: read_panel(path, cfg))))


def test_without_pyarrow_pandas_reads_every_file(tmp_path: Path, monkeypatch):
    path = write(tmp_path, PLAIN["long"])
    expected = read_panel(path)
    monkeypatch.setattr(arrow_csv, "pa", None)  # as where it is not installed
    source = open_source(path)
    assert arrow_csv.arrow_frame(source, 0, source.sample, ",", IDS, "ds") is None
    assert_same_panel(read_panel(path), expected)


def test_a_bad_cell_past_the_first_rows_is_named_by_its_line(tmp_path: Path):
    path = write(tmp_path, TO_PANDAS["text-after-the-sample"])
    with pytest.raises(DataError, match=r"line 4002: column 'y' holds 'oops', not a number"):
        read_panel(path)


def test_gzip_and_stdin_like_streams_read_the_same(tmp_path: Path):
    text = ("unique_id,ds,y\n" + LONG).encode()
    plain = read_panel(write(tmp_path, text))
    assert_same_panel(read_panel(io.BytesIO(gzip.compress(text))), dataclasses.replace(
        plain, source="<stream>"))
    assert_same_panel(read_panel(io.BytesIO(text)), dataclasses.replace(plain,
                                                                         source="<stream>"))


@pytest.mark.parametrize(("content", "options"), [case[1:3] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_every_bad_file_has_the_same_message(tmp_path: Path, content: str | bytes,
                                             options: dict):
    path = write(tmp_path, content)
    cfg = FitConfig(**options)
    assert_same_panel(outcome(lambda: read_panel(path, cfg)),
                      by_pandas(lambda: outcome(lambda: read_panel(path, cfg))))


@pytest.mark.parametrize("name", ["single.csv", "wide.csv", "long.csv", "gaps.csv",
                                  "hourly.csv", "prison.csv.gz", "employment.csv.gz"])
def test_the_sample_data_read_the_same(name: str):
    path = SAMPLE_DATA / name
    assert_same_panel(read_panel(path), by_pandas(lambda: read_panel(path)))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(csv_texts())
def test_fuzz_pyarrow_and_pandas_agree(data: bytes):
    def table():
        return outcome(lambda: parse_csv(open_source(io.BytesIO(data)), IDS))

    def panel():
        return outcome(lambda: read_panel(io.BytesIO(data)))

    assert_same_table(table(), by_pandas(table))
    assert_same_panel(panel(), by_pandas(panel))
