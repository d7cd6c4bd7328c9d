"""Batch prediction at any size: `predict --chunk-series N` reads a long file N whole series at
a time and writes exactly what predict writes; `--shard I/N` keeps the series whose id
hashes to shard I, stably, so that N outputs hold every series once; `forecast_frame` is the
same code path for a DataFrame, with the model loaded once per process."""

from __future__ import annotations

import gzip
import io
import os
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr import api
from forecastr.config import FitConfig
from forecastr.data import chunks, shards
from forecastr.errors import ConfigError, DataError
from forecastr.forecasting import prediction
from forecastr.modelfile import artifact
from tests.conftest import SAMPLE_DATA

PRISON = SAMPLE_DATA / "prison.csv.gz"  # 32 quarterly series of fpp3's prison, grouped by id
FAST = FitConfig(hidden=8, layers=1, max_steps=3, seed=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The prison panel as a plain CSV, and a model with quantiles fitted on 24 of its
    series (so that 8 are unseen)."""
    folder = tmp_path_factory.mktemp("chunks")
    frame = pd.read_csv(PRISON, dtype={"unique_id": str})
    csv = folder / "prison.csv"
    frame.to_csv(csv, index=False)
    ids = frame["unique_id"].unique()
    model = folder / "m.fcst"
    api.fit(io.BytesIO(frame[frame["unique_id"].isin(ids[:24])].to_csv(index=False).encode()),
            FitConfig(**{**FAST.__dict__, "quantiles": (0.1, 0.9)}), model)
    return frame, csv, model


@pytest.mark.parametrize("per_chunk", [1, 5, 32, 1000])
@pytest.mark.parametrize("options", [[], ["--with-history", "--mark-forecasts"],
                                     ["--format", "json"],
                                     ["--new-series", "skip", "--horizon", "3"]])
def test_chunked_predict_writes_exactly_what_predict_writes(cli, data, per_chunk, options):
    _, csv, model = data
    whole = cli(["predict", model, csv, *options])
    chunked = cli(["predict", model, csv, *options, "--chunk-series", per_chunk])
    assert whole.exit_code == chunked.exit_code == 0, chunked.stderr
    assert_same_forecast(chunked.stdout, whole.stdout, "--format" in options)
    assert chunked.stderr == whole.stderr  # the warnings, once, whatever the chunks
    assert whole.stderr.count("unseen in training") == 1


def assert_same_forecast(got: str, wanted: str, json: bool = False) -> None:
    """The same rows, ids and times, and the same numbers but for the last of their 8
    digits: the network's float32 arithmetic over a batch of other series may round
    differently (CPU kernels block a batch of 1 and of 32 differently)."""
    read = (lambda t: pd.read_json(io.StringIO(t), lines=True)) if json \
        else (lambda t: pd.read_csv(io.StringIO(t)))
    assert len(wanted.splitlines()) > 24 and len(got.splitlines()) == len(wanted.splitlines())
    assert got.splitlines()[0] == wanted.splitlines()[0]
    pd.testing.assert_frame_equal(read(got), read(wanted), check_exact=False, rtol=1e-6)


def test_chunked_predict_reads_gzip_from_stdin_and_writes_files_atomically(cli, data, tmp_path):
    _, csv, model = data
    whole = cli(["predict", model, csv]).stdout
    piped = cli(["predict", model, "-", "--chunk-series", "4"],
                input=gzip.compress(csv.read_bytes()))
    assert piped.exit_code == 0
    assert_same_forecast(piped.stdout, whole)
    for name in ("f.csv", "f.parquet"):
        assert cli(["predict", model, csv, "--chunk-series", "7", "-o", tmp_path / name]
                   ).exit_code == 0
        assert cli(["predict", model, csv, "-o", tmp_path / f"whole-{name}"]).exit_code == 0
    assert_same_forecast((tmp_path / "f.csv").read_text(), whole)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.parquet"),
                                  pd.read_parquet(tmp_path / "whole-f.parquet"), rtol=1e-6)


def test_the_python_api_writes_chunked_output_as_the_command_does(cli, data, tmp_path):
    frame, csv, model = data
    for name in ("f.csv", "f.parquet", "f.json"):
        fmt = "json" if name.endswith(".json") else None
        assert api.predict_chunks(model, csv, chunk_series=7, output=tmp_path / name,
                                  fmt=fmt) is None
        command = ["predict", model, csv, "--chunk-series", "7", "-o", tmp_path / f"cli-{name}"]
        assert cli([*command, *(["--format", "json"] if fmt else [])]).exit_code == 0
        assert (tmp_path / name).read_bytes() == (tmp_path / f"cli-{name}").read_bytes()
    kept = tmp_path / "kept.csv"
    kept.write_text("yesterday's forecast\n")
    shuffled = tmp_path / "shuffled.csv"
    pd.concat([frame.iloc[1:], frame.iloc[:1]]).to_csv(shuffled, index=False)
    with pytest.raises(DataError, match="are not together"):
        api.predict_chunks(model, shuffled, chunk_series=3, output=kept)
    assert kept.read_text() == "yesterday's forecast\n"  # atomic: all forecasts or none


def test_a_file_not_grouped_by_id_is_an_error_with_no_forecast_written(cli, data, tmp_path):
    frame, _, model = data
    shuffled = tmp_path / "shuffled.csv"
    moved = frame.index[frame["unique_id"] == frame["unique_id"].iloc[0]][-1]  # its last row
    pd.concat([frame.drop(index=moved), frame.loc[[moved]]]).to_csv(shuffled, index=False)
    kept = tmp_path / "out.csv"
    kept.write_text("yesterday's forecast\n")
    for output in ([], ["-o", kept]):
        result = cli(["predict", model, shuffled, "--chunk-series", "3", *output])
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr == (
            f"forecastr: error: {shuffled}, line {len(frame) + 1}: the rows of series "
            f"{frame['unique_id'].iloc[0]!r} are not together (it came before, then other "
            f"series); chunked predict reads a file grouped by id: sort it first, keeping the "
            f"header and each series' order, e.g. (head -n 1 FILE; tail -n +2 FILE | sort "
            f"-t, -k1,1 -s) > sorted.csv\n")
    assert kept.read_text() == "yesterday's forecast\n"


def test_an_error_in_a_late_chunk_names_the_line_of_the_file_as_predict_does(cli, data,
                                                                             tmp_path):
    frame, _, model = data
    broken = tmp_path / "broken.csv"
    text = frame.to_csv(index=False).splitlines()
    text[1400] = text[1400].rsplit(",", 1)[0] + ",12x"  # line 1401 of the file
    text[5] = text[5].rsplit(",", 1)[0] + ","  # a gap, filled with a warning
    text[20:20] = [""]  # and a blank line: the bad value is now on line 1402
    broken.write_text("\n".join(text) + "\n")
    whole = cli(["predict", model, broken])
    chunked = cli(["predict", model, broken, "--chunk-series", "2"])
    assert whole.exit_code == chunked.exit_code == 2 and chunked.stdout == ""
    assert "line 1402: column 'y' holds '12x'" in whole.stderr
    # the same error, after the warning of the gap in a chunk forecast before it
    assert chunked.stderr.splitlines()[-1] == whole.stderr.strip()
    assert "filled 1 missing point(s)" in chunked.stderr


def test_chunks_warn_once_per_kind_and_count_the_rest(cli, data, tmp_path):
    frame, _, model = data
    gaps = tmp_path / "gaps.csv"
    frame.assign(y=frame["y"].where(frame.index % 500 != 7)).to_csv(gaps, index=False)
    whole = cli(["predict", model, gaps])
    chunked = cli(["predict", model, gaps, "--chunk-series", "2"])
    assert "filled 3 missing point(s) in 3 series" in whole.stderr
    assert "filled 1 missing point(s) in 1 series" in chunked.stderr
    assert chunked.stderr.count("filled") == 1
    assert f"{gaps}: 2 more warning(s) like those above, from later chunks" in chunked.stderr


def test_chunks_need_a_long_file_and_the_future_rows_in_it(cli, data, tmp_path):
    _, csv, model = data
    wide = tmp_path / "wide.fcst"
    assert api.fit(SAMPLE_DATA / "wide.csv", FAST, wide)
    result = cli(["predict", wide, SAMPLE_DATA / "wide.csv", "--chunk-series", "2"])
    assert result.exit_code == 2 and "--chunk-series reads a long file" in result.stderr
    result = cli(["predict", model, csv, "--chunk-series", "2", "--future", csv])
    assert result.exit_code == 2 and "put them there instead of in --future" in result.stderr


def test_an_id_padded_with_leading_spaces_is_one_series_in_chunks_as_in_the_whole_file(
        cli, data, tmp_path):
    frame, _, model = data
    padded = frame.copy()
    first = padded["unique_id"].iloc[0]
    rows = np.flatnonzero(padded["unique_id"] == first)
    padded.loc[rows[len(rows) // 2:], "unique_id"] = " " + first  # its second half
    csv = tmp_path / "padded.csv"
    padded.to_csv(csv, index=False)
    whole = cli(["predict", model, csv])
    assert whole.exit_code == 0
    assert_same_forecast(whole.stdout, cli(["predict", model, data[1]]).stdout)
    for options in (["--chunk-series", "1"], ["--chunk-series", "5"]):
        chunked = cli(["predict", model, csv, *options])
        assert chunked.exit_code == 0, chunked.stderr
        assert_same_forecast(chunked.stdout, whole.stdout)
    # and a shard holds the whole series, as the reader names it
    held = [cli(["predict", model, csv, "--shard", f"{i}/2", "--chunk-series", "3"])
            for i in (1, 2)]
    assert all(part.exit_code == 0 for part in held)
    assert sum(pd.read_csv(io.StringIO(part.stdout))["unique_id"].eq(first).sum()
               for part in held) == model_horizon(model)


def model_horizon(model) -> int:
    return artifact.load(model).config.horizon


def test_shards_split_the_forecast_into_parts_that_make_it_whole(cli, data):
    _, csv, model = data
    whole = pd.read_csv(io.StringIO(cli(["predict", model, csv]).stdout))
    parts = []
    for i in (1, 2, 3):
        alone = cli(["predict", model, csv, "--shard", f"{i}/3"])
        chunked = cli(["predict", model, csv, "--shard", f"{i}/3", "--chunk-series", "2"])
        assert alone.exit_code == 0
        assert_same_forecast(chunked.stdout, alone.stdout)
        parts.append(pd.read_csv(io.StringIO(alone.stdout)))
    ids = [set(p["unique_id"]) for p in parts]
    assert all(ids) and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    together = pd.concat(parts).sort_values(["unique_id", "ds"], kind="stable")
    pd.testing.assert_frame_equal(together.reset_index(drop=True),
                                  whole.sort_values(["unique_id", "ds"], kind="stable")
                                  .reset_index(drop=True), rtol=1e-6)


def test_shards_are_a_stable_hash_of_the_id():
    # golden: the same on every machine, Python version and process
    assert {i: shards.shard_of(i, 4) for i in GOLDEN_SHARDS} == GOLDEN_SHARDS
    assert shards.parse(" 2 / 8 ") == shards.Shard(2, 8) and str(shards.Shard(2, 8)) == "2/8"
    for text, message in [("0/3", "between 1 and the count"), ("4/3", "between 1"),
                          ("1/0", "count must be at least 1"), ("1-3", "must be I/N")]:
        with pytest.raises(ConfigError, match=message):
            shards.parse(text)


GOLDEN_SHARDS = {"s1": 1, "s2": 3, "store-7/sku-1234": 3, "é": 4}


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=12),
       per_chunk=st.integers(1, 5), read=st.integers(1, 7),
       blanks=st.sets(st.integers(0, 80), max_size=4), held=st.sampled_from([None, 2]))
def test_chunks_hold_whole_series_in_order_and_know_their_lines(lengths, per_chunk, read,
                                                                blanks, held):
    rows = [(f"id{s}", f"2020-01-{t + 1:02d}", f"{s}.{t}") for s, n in enumerate(lengths)
            for t in range(n)]
    lines, text, line = [], ["unique_id,ds,y"], 1
    for row in rows:
        while line - 1 in blanks:  # blank lines between rows
            text.append("")
            line += 1
        text.append(",".join(row))
        line += 1
        lines.append(line)
    keep = None if held is None else (lambda i: int(i[2:]) % held == 0)
    with mock.patch.object(chunks, "ROWS_PER_READ", read):
        excerpts = list(chunks.series_chunks(io.BytesIO("\n".join(text).encode()), "unique_id",
                                             per_chunk, keep))
    wanted = [(r, n) for r, n in zip(rows, lines) if keep is None or keep(r[0])]
    got = [(tuple(r), int(n)) for e in excerpts
           for r, n in zip(pd.read_csv(io.BytesIO(e.getvalue()), dtype=str).to_numpy(),
                           e.lines)]
    assert got == wanted
    counts = [pd.read_csv(io.BytesIO(e.getvalue()))["unique_id"].nunique() for e in excerpts]
    assert all(c == per_chunk for c in counts[:-1]) and 1 <= counts[-1] <= per_chunk if counts \
        else not wanted


def test_forecast_frame_is_predicts_table_and_loads_the_model_once(cli, data, monkeypatch):
    frame, csv, model = data
    whole = cli(["predict", model, csv]).stdout
    loads = []
    real = artifact.load
    monkeypatch.setattr(artifact, "load", lambda path: loads.append(path) or real(path))
    prediction._cached.cache_clear()
    parts = [api.forecast_frame(model, part) for _, part in frame.groupby("unique_id", sort=False)]
    assert_same_forecast(pd.concat(parts).to_csv(index=False, lineterminator="\n"), whole)
    assert len(loads) == 1  # once for 32 partitions
    os.utime(model, ns=(1, 1))  # a model file replaced is read again
    api.forecast_frame(model, frame.head(30))
    assert len(loads) == 2
    empty = api.forecast_frame(model, frame.head(0))
    assert empty.empty and list(empty.columns) == ["unique_id", "ds", "y", "y-q0.1", "y-q0.9"]
    pd.testing.assert_frame_equal(empty, api.forecast_columns(model))
    assert list(empty.dtypes.astype(str)) == [str(d) for d in parts[0].dtypes]


def test_a_series_that_comes_back_in_a_frame_is_no_error_without_chunks(data):
    # forecast_frame reads a frame whole, as predict reads a file: grouping is not needed
    frame, _, model = data
    forecast = api.forecast_frame(model, frame.sample(frac=1.0, random_state=0))
    assert forecast["unique_id"].nunique() == 32
    with pytest.raises(DataError, match="<DataFrame>: no values in 'y'"):
        api.forecast_frame(model, frame.assign(y=np.nan))


def test_chunks_read_numbers_with_the_whole_files_decimal_mark(cli, tmp_path):
    # decimal commas, decided on the file's first rows; series b's values, read alone,
    # would pass for decimals with a point (2.500 = 2.5), where the file means 2500
    days = pd.date_range("2024-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    rows = [f"a;{d};{10 + i % 7},{i % 10}" for i, d in enumerate(days)] + \
        [f"b;{d};{2 + (i % 7) // 3}.{500 + i % 7 * 37:03d}" for i, d in enumerate(days)]
    data = tmp_path / "comma.csv"
    data.write_text("unique_id;ds;y\n" + "\n".join(rows) + "\n")
    model = tmp_path / "m.fcst"
    assert cli(["fit", data, "-o", model, "--max-steps", "2", "--hidden", "4", "--window",
                "14", "--horizon", "3"]).exit_code == 0
    whole = cli(["predict", model, data])
    assert whole.exit_code == 0
    b = pd.read_csv(io.StringIO(whole.stdout)).query("unique_id == 'b'")["y"]
    assert (b > 1000).all()  # in thousands, as the file means them
    for per_chunk in ("1", "2"):
        chunked = cli(["predict", model, data, "--chunk-series", per_chunk])
        assert chunked.exit_code == 0, chunked.stderr
        assert chunked.stdout == whole.stdout
    sharded = [cli(["predict", model, data, "--shard", f"{i}/2", "--chunk-series", "1"])
               for i in (1, 2)]
    assert sorted(line for part in sharded for line in part.stdout.splitlines()[1:]) == \
        sorted(whole.stdout.splitlines()[1:])


def test_a_model_reads_dates_in_the_day_order_its_data_decided(cli, tmp_path):
    # dd/mm/yyyy: series a's days past 12 decide the order; series b's alone (1-11 March)
    # would read month first, as 3 January to 3 November
    a = pd.date_range("2024-01-01", periods=40, freq="D")
    b = pd.date_range("2024-03-01", periods=11, freq="D")
    rows = [f"a,{d:%d/%m/%Y},{10 + i % 7}" for i, d in enumerate(a)] + \
        [f"b,{d:%d/%m/%Y},{20 + i % 5}" for i, d in enumerate(b)]
    data, only_b = tmp_path / "dm.csv", tmp_path / "b.csv"
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    only_b.write_text("unique_id,ds,y\n" + "\n".join(rows[40:]) + "\n")
    model = tmp_path / "m.fcst"
    assert cli(["fit", data, "-o", model, "--max-steps", "2", "--hidden", "4", "--window",
                "4", "--horizon", "3"]).exit_code == 0
    assert artifact.load(model).config.dayfirst is True  # recorded, though not given
    whole = cli(["predict", model, data])
    assert whole.exit_code == 0
    assert cli(["predict", model, data, "--chunk-series", "1"]).stdout == whole.stdout
    alone = cli(["predict", model, only_b])
    assert alone.exit_code == 0 and alone.stdout.splitlines()[1].startswith("b,2024-03-12,")
    # ISO dates have no order to decide: nothing is recorded
    iso = tmp_path / "iso.csv"
    pd.read_csv(data).assign(ds=lambda f: pd.to_datetime(f.ds, dayfirst=True)).to_csv(
        iso, index=False)
    assert cli(["fit", iso, "-o", tmp_path / "iso.fcst", "--max-steps", "1", "--window", "4",
                "--horizon", "3"]).exit_code == 0
    assert artifact.load(tmp_path / "iso.fcst").config.dayfirst is None


def test_an_empty_shard_writes_the_header_chunked_as_unchunked(cli, data, tmp_path):
    frame, csv, model = data
    count = 200  # more shards than the 32 series: some hold none
    taken = {shards.shard_of(i, count) for i in frame["unique_id"].unique()}
    empty = next(i for i in range(1, count + 1) if i not in taken)
    whole = cli(["predict", model, csv, "--shard", f"{empty}/{count}"])
    chunked = cli(["predict", model, csv, "--shard", f"{empty}/{count}", "--chunk-series", "4"])
    assert whole.exit_code == chunked.exit_code == 0, chunked.stderr
    assert chunked.stdout == whole.stdout == "unique_id,ds,y,y-q0.1,y-q0.9\n"
    for options, path in (([], tmp_path / "w.parquet"), (["--chunk-series", "4"],
                                                          tmp_path / "c.parquet")):
        assert cli(["predict", model, csv, "--shard", f"{empty}/{count}", "-o", path,
                    *options]).exit_code == 0
    alone, chunks_of = (pd.read_parquet(tmp_path / n) for n in ("w.parquet", "c.parquet"))
    assert len(chunks_of) == 0 and list(chunks_of.columns) == list(alone.columns)


def test_chunks_of_a_parquet_file_are_refused_saying_what_to_do(cli, data, tmp_path):
    frame, _, model = data
    frame.to_parquet(tmp_path / "d.parquet")
    result = cli(["predict", model, tmp_path / "d.parquet", "--chunk-series", "2"])
    assert result.exit_code == 2 and "not UTF-8" not in result.stderr
    assert "--chunk-series reads a long CSV a few series at a time; predict a Parquet file " \
           "without it, or split the work with --shard I/N" in result.stderr
    assert cli(["predict", model, tmp_path / "d.parquet"]).exit_code == 0


def test_forecast_frame_checks_its_options_as_predict_does(data, tmp_path):
    from forecastr.errors import ModelFileError

    frame, _, model = data
    trained = artifact.load(model).config.horizon
    for options, message in [({"horizon": trained + 1}, f"--horizon must be between 1 and "
                                                        f"{trained}"),
                             ({"horizon": -1}, "--horizon must be a whole number of at least "
                                               "1, got -1"),
                             ({"horizon": 0}, "--horizon must be a whole number of at least 1"),
                             ({"new_series": "bogus"}, "--new-series must be one of forecast, "
                                                       "skip, error; got 'bogus'")]:
        with pytest.raises(ConfigError, match=message):
            api.forecast_frame(model, frame, **options)
    with pytest.raises(ModelFileError, match="no such model file"):
        api.forecast_frame(tmp_path / "missing.fcst", frame)


def test_a_full_spool_for_stdout_is_a_one_line_error_that_suggests_o(cli, data, monkeypatch):
    import errno
    import types

    from forecastr.cli import commands as cli_module

    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def unmade():
        raise OSError(errno.EROFS, "Read-only file system")

    _, csv, model = data
    for spool in (Full, unmade):
        monkeypatch.setattr(cli_module, "tempfile", types.SimpleNamespace(
            TemporaryFile=spool, gettempdir=lambda: "/tmp/full"))
        result = cli(["predict", model, csv, "--chunk-series", "5"])
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [
            "forecastr: error: cannot spool the chunked forecasts for stdout in /tmp/full ("
            + ("No space left on device" if spool is Full else "Read-only file system")
            + "); give -o PATH to write them to a file instead, or point TMPDIR at a folder "
              "with room"]
