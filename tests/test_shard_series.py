"""`fit --shard-series`: of several processes, each reads only the series whose id hashes to
it (from a file in any row order), draws its share of every batch from its own windows, and
the ranks gather what the model file needs of every series; with the whole epoch in one
batch, the model is the one a single process trains."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr.config import FitConfig
from forecastr.data import chunks
from forecastr.data.panel import Schema
from forecastr.data.reader import read_panel
from forecastr.data.shards import Shard, shard_of
from forecastr.errors import ConfigError, DataError
from forecastr.modelfile import artifact
from forecastr.training import checkpoint, sharded_panel
from forecastr.training.sampling import apportion, epoch_plan
from tests.test_distributed import run_forecastr, signal_rank_1

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ids_of_shard(shard: int, count: int, wanted: int, prefix: str = "shop") -> list[str]:
    """The first `wanted` ids PREFIX0, PREFIX1, ... that hash to `shard` of `count`."""
    found = (f"{prefix}{i}" for i in range(10_000) if shard_of(f"{prefix}{i}", count) == shard)
    return [next(found) for _ in range(wanted)]


def shops(path, series: int = 12, days: int = 60, short: str | None = None) -> pd.DataFrame:
    """Daily sales of shops of two kinds and three sizes, rows shuffled (no file order is
    assumed); `short`: one more series, of 5 days, too short for any window."""
    rng = np.random.default_rng(7)
    frames = []
    for i in range(series):
        kind, size = ("weekly", "fiveday")[i % 2], 1 + i % 3
        t = np.arange(days)
        y = size * (10 + 3 * np.sin(2 * np.pi * t / (7 if kind == "weekly" else 5)))
        frames.append(pd.DataFrame({"unique_id": f"shop{i}", "ds": pd.date_range(
            "2021-01-01", periods=days, freq="D"), "y": (y + rng.normal(0, 0.3, days)).round(3),
            "kind": kind, "size": size}))
    if short:
        frames.append(pd.DataFrame({"unique_id": short, "ds": pd.date_range(
            "2021-01-01", periods=5, freq="D"), "y": 1.0, "kind": "weekly", "size": 1}))
    frame = pd.concat(frames, ignore_index=True).sample(frac=1, random_state=1)
    frame.to_csv(path, index=False)
    return frame


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["a", " a", "b", "NA", "007", "ü", "x y", "", "d"]),
                min_size=1, max_size=40), st.integers(1, 4))
def test_the_shards_rows_together_are_the_files_rows_each_once(ids, count):
    lines = ["unique_id,ds,y", *(f"{i},{n},{n}" for n, i in enumerate(ids))]
    text = "\n".join(lines) + "\n"
    seen = []
    for index in range(1, count + 1):
        try:
            rows = chunks.shard_rows(io.BytesIO(text.encode()), "unique_id",
                                     Shard(index, count))
        except DataError as exc:  # a shard no series falls to
            assert "use fewer processes" in str(exc)
            assert not any(shard_of(i.lstrip(" "), count) == index for i in ids)
            continue
        got = rows.getvalue().decode().splitlines()
        assert got[0] == lines[0] and len(got) - 1 == len(rows.lines)
        for line, row in zip(rows.lines, got[1:]):  # each as written, with its file's line
            # by the id as the reader reads it: " a" is a's row
            assert row == lines[line - 1] and \
                shard_of(row.rsplit(",", 2)[0].lstrip(" "), count) == index
        seen += rows.lines.tolist()
    assert sorted(seen) == list(range(2, len(ids) + 2))  # every row once


def test_a_shards_errors_name_the_line_of_the_whole_file(tmp_path):
    mine, other = ids_of_shard(1, 2, 1)[0], ids_of_shard(2, 2, 1)[0]
    path = tmp_path / "d.csv"
    path.write_text("unique_id,ds,y\n" + "".join(
        f"{i},2021-01-0{d},1\n" for d in range(1, 6) for i in (other, mine)).replace(
        f"{mine},2021-01-04,1", f"{mine},2021-01-04,oops"))
    with pytest.raises(DataError, match=r"line 9\b.*'oops'"):
        read_panel(path, FitConfig(), shard=Shard(1, 2))
    assert read_panel(path, FitConfig(), shard=Shard(2, 2)).ids == (other,)


def test_a_parquet_file_is_read_shard_by_shard_too(tmp_path):
    frame = shops(tmp_path / "d.csv")
    frame.to_parquet(tmp_path / "d.parquet")
    cfg = FitConfig(static_features=("kind", "size"))
    for index in (1, 2):
        csv = read_panel(tmp_path / "d.csv", cfg, shard=Shard(index, 2))
        parquet = read_panel(tmp_path / "d.parquet", cfg, shard=Shard(index, 2))
        assert set(csv.ids) == set(parquet.ids) == set(ids for ids in frame["unique_id"]
                                                       if shard_of(ids, 2) == index)
        assert np.array_equal(csv.values, parquet.values)


def test_a_file_without_ids_cannot_be_sharded(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("ds,a,b\n2021-01-01,1,2\n2021-01-02,3,4\n")
    with pytest.raises(DataError, match="no column 'unique_id'.*long layout"):
        read_panel(path, FitConfig(), shard=Shard(1, 2))
    pd.read_csv(path).to_parquet(tmp_path / "wide.parquet")
    with pytest.raises(DataError, match="wide.parquet: no column 'unique_id'.*long layout"):
        read_panel(tmp_path / "wide.parquet", FitConfig(), shard=Shard(1, 2))


def test_an_epoch_is_drawn_in_proportion_to_what_each_rank_holds():
    plans = [epoch_plan((5, 7, 20), rank, 32, 8) for rank in range(3)]
    assert [count for count, _, _ in plans] == [5, 7, 20]  # every window once
    assert [part.tolist() for _, part, _ in plans] == [[1, 1, 1, 2], [1, 2, 2, 2],
                                                       [5, 5, 5, 5]]
    assert plans[0][2].tolist() == [7, 8, 8, 9]  # the batches over all ranks
    assert apportion(10, (1, 1, 1)) == [4, 3, 3] and apportion(0, (2, 5)) == [0, 0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=1, max_size=6), st.integers(1, 3000),
       st.integers(1, 600))
def test_every_batch_has_windows_and_each_rank_draws_its_share(held, per_epoch, batch):
    batch = max(batch, len(held))  # fit refuses a batch smaller than the processes
    plans = [epoch_plan(tuple(held), rank, per_epoch, batch) for rank in range(len(held))]
    counts = [count for count, _, _ in plans]
    assert sum(counts) == per_epoch and counts == apportion(per_epoch, tuple(held))
    assert all(part.sum() == count and (part >= 0).all() for count, part, _ in plans)
    sizes = plans[0][2]
    assert len(sizes) == -(-per_epoch // batch) and (sizes >= 1).all()
    assert (abs(sizes[:-1] - batch) < len(held)).all()
    assert np.array_equal(sizes, np.sum([part for _, part, _ in plans], axis=0))


def test_the_processes_must_agree_on_the_time_axis():
    schema = Schema("long", "ds", "datetime", "D", 1, None, "unique_id", ("y",), (), ("y",))
    weekly = Schema("long", "ds", "datetime", "W-SUN", 1, None, "unique_id", ("y",), (),
                    ("y",))
    sharded_panel._check_agreement([schema, schema], "d.csv")
    with pytest.raises(DataError, match="disagree on their freq: 'D' on rank 0, 'W-SUN' on "
                                        "rank 1; give --freq"):
        sharded_panel._check_agreement([schema, weekly], "d.csv")


def test_the_processes_read_dates_in_one_order_which_the_model_keeps(tmp_path):
    assert sharded_panel._day_order([None, True, True], "d.csv") is True
    assert sharded_panel._day_order([None, None], "d.csv") is None
    # rank 1's series show no day above 12: month first gave it the more regular reading
    with pytest.raises(DataError, match=r"d.csv: the processes read dates such as 01/02/2020 "
                                        r"in different orders \(day first on rank 0, month "
                                        r"first on rank 1: .*pass --dayfirst or --no-dayfirst"):
        sharded_panel._day_order([True, False], "d.csv")
    # a process whose own series decide nothing records the order the others decided
    data = tmp_path / "iso.csv"
    pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=40),
                  "y": np.arange(40.0)}).to_csv(data, index=False)
    panel = read_panel(data)
    assert panel.dayfirst is None
    shares = sharded_panel.PanelShares((1, 1), None, 0, dayfirst=True)
    from forecastr.training.fitting import prepare

    assert prepare(panel, FitConfig(), shares).cfg.dayfirst is True


def test_resuming_a_sharded_run_without_sharding_is_refused(tmp_path):
    path = tmp_path / "m.ckpt"
    checkpoint.save(path, {}, FitConfig(), "digest", processes=2, shard_series=True)
    with pytest.raises(ConfigError, match="trained with --shard-series, this one without"):
        checkpoint.load(path, FitConfig(), "digest", 2)


def test_on_one_process_shard_series_reads_every_series(cli, tmp_path):
    shops(tmp_path / "d.csv")
    args = ["fit", tmp_path / "d.csv", "--hidden", "4", "--max-steps", "3", "--quiet"]
    assert cli([*args, "-o", tmp_path / "a.fcst"]).exit_code == 0
    assert cli([*args, "-o", tmp_path / "b.fcst", "--shard-series"]).exit_code == 0
    plain, sharded = artifact.load(tmp_path / "a.fcst"), artifact.load(tmp_path / "b.fcst")
    assert all((plain.state_dict[k] == sharded.state_dict[k]).all() for k in plain.state_dict)


# the whole epoch in one batch: the ranks' parts make the batch a single process takes
WHOLE_EPOCH = ["--hidden", "8", "--dropout", "0", "--batch-size", "100000", "--epoch-size", "0",
               "--window", "14", "--horizon", "7", "--max-steps", "25", "--seed", "2",
               "--val-windows", "4", "--intervals", "80", "--interval-method", "conformal",
               "--device", "cpu"]


def by_id(model: artifact.Artifact, values: np.ndarray) -> dict[str, np.ndarray]:
    return dict(zip(model.series["ids"], values))


def test_two_sharded_processes_train_the_model_one_process_trains(tmp_path):
    short = ids_of_shard(2, 2, 1, prefix="new")[0]  # rank 1 holds it and warns of it
    frame = shops(tmp_path / "d.csv", short=short)
    one, two = tmp_path / "one.fcst", tmp_path / "two.fcst"
    single = run_forecastr("fit", tmp_path / "d.csv", "-o", one, *WHOLE_EPOCH)
    sharded = run_forecastr("fit", tmp_path / "d.csv", "-o", two, *WHOLE_EPOCH, "--nproc", "2",
                            "--shard-series")
    assert single.returncode == sharded.returncode == 0, sharded.stderr
    skipped = f"skipped 1 series shorter than horizon + 1 = 8 points: '{short}'"
    assert skipped in single.stderr and f"[rank 1] {tmp_path / 'd.csv'}: {skipped}" in \
        sharded.stderr
    a, b = artifact.load(one), artifact.load(two)
    ids = sorted(frame["unique_id"].unique())
    assert sorted(b.series["ids"]) == ids and b.training["processes"] == 2
    assert b.training["series_per_process"] == [sum(shard_of(i, 2) == s for i in ids)
                                                for s in (1, 2)]
    for key in ("train_windows", "val_windows", "skipped_series", "steps"):
        assert a.training[key] == b.training[key], key
    for stats in ("loc", "scale"):
        mine, theirs = by_id(a, getattr(a.scaling, stats)), by_id(b, getattr(b.scaling, stats))
        assert all(np.array_equal(mine[i], theirs[i]) for i in mine)
    assert by_id(a, a.series["last_times"]) == by_id(b, b.series["last_times"])
    # equal but for float rounding: the ranks' halves of the batch are summed apart
    weights = max(float((a.state_dict[k] - b.state_dict[k]).abs().max()) for k in a.state_dict)
    assert weights < 1e-4
    mine, theirs = by_id(a, a.conformal["widths"]), by_id(b, b.conformal["widths"])
    assert all(np.allclose(mine[i], theirs[i], rtol=1e-3) for i in mine)
    forecasts = [pd.read_csv(io.StringIO(run_forecastr("predict", m, tmp_path / "d.csv").stdout))
                 .sort_values(["unique_id", "ds"], ignore_index=True) for m in (one, two)]
    pd.testing.assert_frame_equal(forecasts[0], forecasts[1], check_exact=False, rtol=1e-3)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sharding", [["--shard-series"], []])
def test_a_distributed_run_stopped_and_resumed_ends_as_an_uninterrupted_one(tmp_path,
                                                                           sharding):
    frame = shops(tmp_path / "d.csv", series=16)
    # dropout and the static features' unknown levels: random masks of each rank's own,
    # which the checkpoint keeps for each
    fit = [tmp_path / "d.csv", "--hidden", "8", "--dropout", "0.2", "--device", "cpu",
           "--batch-size", "16", "--epoch-size", "64", "--max-steps", "240", "--epochs", "400",
           "--patience", "400", "--id-embedding", "4", "--static-features", "kind,size",
           "--mode", "many-to-many", "--nproc", "2", *sharding]
    args = ["fit", *fit]
    whole = run_forecastr(*args, "-o", tmp_path / "whole.fcst", "--quiet")
    assert whole.returncode == 0, whole.stderr
    status, rest = signal_rank_1(tmp_path / "m.fcst", signal.SIGTERM, fit)
    assert status == 143, rest
    assert "--resume --nproc 2" in rest and ("--shard-series" in rest) == bool(sharding)
    resumed = run_forecastr(*args, "-o", tmp_path / "m.fcst", "--quiet", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = artifact.load(tmp_path / "whole.fcst"), artifact.load(tmp_path / "m.fcst")
    assert b.training["resumed"] and a.training["steps"] == b.training["steps"] == 240
    # the static features' levels and scaling, and the ids, of every process's series
    assert b.dimensions.static_levels == (2 + 1, 16 + 1)  # with the unknown level
    assert b.static.levels == {"kind": ["fiveday", "weekly"]}
    sizes = frame.groupby("unique_id")["size"].first()
    assert np.allclose(b.static.numeric["size"], [sizes.mean(), sizes.std(ddof=0)])
    # each rank draws its masks on from its own saved state (and, sharded, its windows again
    # from the epoch's seed): exactly the same run
    assert all((a.state_dict[k] == b.state_dict[k]).all() for k in a.state_dict)


def test_a_bad_row_in_one_processs_series_ends_the_run_with_one_line_errors(tmp_path):
    # without the static columns, which the fit would warn it does not use
    shops(tmp_path / "d.csv").drop(columns=["kind", "size"]).to_csv(tmp_path / "d.csv",
                                                                    index=False)
    bad = ids_of_shard(2, 2, 1)[0]  # rank 1 reads it; rank 0 waits for rank 1 to say
    lines = (tmp_path / "d.csv").read_text().splitlines()
    number = next(n for n, line in enumerate(lines) if line.startswith(f"{bad},"))
    lines[number] = ",".join([*lines[number].split(",")[:2], "oops",
                              *lines[number].split(",")[3:]])
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    failed = run_forecastr("fit", tmp_path / "d.csv", "-o", tmp_path / "m.fcst", "--nproc",
                           "2", "--shard-series", "--max-steps", "2")
    assert failed.returncode == 2
    assert f"forecastr: error: [rank 1] {tmp_path / 'd.csv'}, line {number + 1}: column 'y' " \
           f"holds 'oops'" in failed.stderr
    # rank 0 says in one line too that rank 1 failed, or, when still reading, that the
    # launcher stopped it (exiting 143 in torch's same second: cli.cause)
    assert all(line.startswith("forecastr: error: ") for line in failed.stderr.splitlines())
    assert not (tmp_path / "m.fcst").exists()
