"""Future-known features (--future-features): what they are worth where the target depends
on them, and how predict reads their values (rows past DATA's end, a --future file, stdin)
and refuses missing ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.data import future_values
from forecastr.data.reader import read_panel
from forecastr.errors import ConfigError, DataError
from forecastr.network.model import Dimensions, Forecaster
from tests.conftest import run_cli

DAYS = 120
PROMO_LIFT = 4.0


def promo_panel(path, series: int = 6, days: int = DAYS):
    """Daily series whose level rises by PROMO_LIFT on promotion days, drawn at random (so
    that no window tells when the next one comes), over a weekly cycle and some noise."""
    rng = np.random.default_rng(1)
    frames = []
    for i in range(series):
        t = np.arange(days)
        promo = (rng.random(days) < 0.25).astype(int)
        y = 10 + 2 * np.sin(2 * np.pi * t / 7 + i) + PROMO_LIFT * promo \
            + 0.3 * rng.standard_normal(days)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range(
            "2020-01-01", periods=days, freq="D"), "y": y.round(3), "promo": promo}))
    frame = pd.concat(frames, ignore_index=True)
    frame.to_csv(path, index=False)
    return frame


@pytest.mark.parametrize("mode", ["many-to-one", "many-to-many"])
def test_known_promotions_beat_the_model_that_cannot_see_them(tmp_path, mode):
    full = promo_panel(tmp_path / "full.csv")
    # trained on all but the last three weeks, scored on those three weeks only
    full[full.ds < full.ds.max() - pd.Timedelta(days=20)].to_csv(tmp_path / "head.csv",
                                                                 index=False)
    scores = {}
    for name, future in (("with", ("promo",)), ("without", ())):
        cfg = FitConfig(window=14, horizon=7, mode=mode, hidden=32, max_steps=400,
                        future_features=future, device="cpu")
        api.fit(tmp_path / "head.csv", cfg, tmp_path / f"{name}.fcst")
        report = api.evaluate(tmp_path / f"{name}.fcst", tmp_path / "full.csv", folds=3,
                              device_spec="cpu")
        assert report["in_sample_forecasts"] == 0
        scores[name] = report["overall"]
    # the stated margin: knowing the promotions cuts MASE by at least a fifth (measured:
    # 0.85 against 1.16 many-to-one, 0.61 against 1.22 many-to-many), and beats seasonal
    # naive, which the model without them does not
    assert scores["with"]["model"]["mase"] <= 0.8 * scores["without"]["model"]["mase"]
    assert scores["with"]["model"]["mase"] < scores["with"]["seasonal_naive"]["mase"]


@pytest.fixture(scope="module")
def promo_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("promo")
    frame = promo_panel(folder / "data.csv", series=3, days=60)
    cfg = FitConfig(window=14, horizon=5, max_steps=5, future_features=("promo",),
                    device="cpu")
    api.fit(folder / "data.csv", cfg, folder / "m.fcst")
    return folder, frame


def future_rows(frame: pd.DataFrame, steps: int, promo=(1, 0, 0, 1, 0)) -> pd.DataFrame:
    rows = []
    for series_id, group in frame.groupby("unique_id"):
        times = pd.date_range(group.ds.max() + pd.Timedelta(days=1), periods=steps, freq="D")
        rows.append(pd.DataFrame({"unique_id": series_id, "ds": times,
                                  "promo": list(promo)[:steps]}))
    return pd.concat(rows, ignore_index=True)


def test_future_values_from_rows_past_the_end_a_future_file_or_stdin(promo_model):
    folder, frame = promo_model
    ahead = future_rows(frame, 5)
    pd.concat([frame, ahead.assign(y=np.nan)]).to_csv(folder / "plus.csv", index=False)
    ahead.to_csv(folder / "future.csv", index=False)
    past_end = run_cli(["predict", folder / "m.fcst", folder / "plus.csv"])
    separate = run_cli(["predict", folder / "m.fcst", folder / "data.csv",
                        "--future", folder / "future.csv"])
    piped = run_cli(["predict", folder / "m.fcst", "-"], input=(folder / "plus.csv").read_bytes())
    assert past_end.exit_code == separate.exit_code == piped.exit_code == 0, past_end.stderr
    assert past_end.stdout == separate.stdout == piped.stdout
    assert past_end.stdout.splitlines()[1].startswith("s0,2020-03-01,")
    # the forecasts follow the promotions they were given
    other = ahead.assign(promo=1 - ahead.promo)
    other.to_csv(folder / "other.csv", index=False)
    changed = run_cli(["predict", folder / "m.fcst", folder / "data.csv",
                       "--future", folder / "other.csv"])
    assert changed.exit_code == 0 and changed.stdout != separate.stdout


def test_missing_future_values_name_the_series_and_first_missing_time(promo_model):
    folder, frame = promo_model
    ahead = future_rows(frame, 5)
    ahead.drop(index=[7]).to_csv(folder / "gap.csv", index=False)  # s1's third step
    result = run_cli(["predict", folder / "m.fcst", folder / "data.csv",
                      "--future", folder / "gap.csv"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"forecastr: error: {folder / 'gap.csv'}: series 's1' has no future value of 'promo' "
        f"at 2020-03-03 (2 of the 5 steps after its end are there); the model reads its "
        f"future features for 5 steps: give them in --future {folder / 'gap.csv'}\n")
    result = run_cli(["predict", folder / "m.fcst", folder / "data.csv"])
    assert result.exit_code == 2
    assert "series 's0' has no future value of 'promo' at 2020-03-01 (0 of the 5 steps" in \
        result.stderr and "3 series lack some" in result.stderr
    assert "rows after the series' last value, with an empty target" in result.stderr


def test_an_empty_future_cell_is_missing_and_duplicates_follow_the_models_policy(
        promo_model):
    folder, frame = promo_model
    ahead = future_rows(frame, 5)
    ahead.loc[3, "promo"] = np.nan
    ahead.to_csv(folder / "hole.csv", index=False)
    with pytest.raises(DataError, match=r"series 's0' has no future value of 'promo' at "
                                        r"2020-03-04 \(3 of the 5"):
        api.predict(folder / "m.fcst", folder / "data.csv", future=folder / "hole.csv")
    twice = pd.concat([future_rows(frame, 5), future_rows(frame, 5).iloc[:1]])
    twice.to_csv(folder / "twice.csv", index=False)
    with pytest.raises(DataError, match=r"twice.csv, line 17: series 's0' has a second row "
                                        r"at 2020-03-01; give one row per time"):
        api.predict(folder / "m.fcst", folder / "data.csv", future=folder / "twice.csv")
    # twice a day for a daily model: each row floored onto its day, as DATA's rows are, and
    # the message quotes the times as the file gives them
    hourly = future_rows(frame, 5)
    noon = hourly.iloc[:1].assign(ds=hourly.ds.iloc[0] + pd.Timedelta(hours=12))
    pd.concat([hourly.iloc[:1], noon, hourly.iloc[1:]]).to_csv(folder / "noon.csv",
                                                              index=False)
    with pytest.raises(DataError, match=r"noon.csv, line 3: the time 2020-03-01 12:00:00 "
                                        r"\(series 's0'\) falls in the same step of the "
                                        r"model's frequency D \(2020-03-01\) as line 2 "
                                        r"\(2020-03-01 00:00:00\); give one row per D "
                                        r"step"):
        api.predict(folder / "m.fcst", folder / "data.csv", future=folder / "noon.csv")


def test_future_for_a_model_without_future_features_is_refused(tmp_path):
    promo_panel(tmp_path / "data.csv", series=2, days=40)
    api.fit(tmp_path / "data.csv", FitConfig(window=7, horizon=3, max_steps=2, device="cpu"),
            tmp_path / "m.fcst")
    with pytest.raises(ConfigError, match="fitted without future features"):
        api.predict(tmp_path / "m.fcst", tmp_path / "data.csv", future=tmp_path / "data.csv")


def test_a_wide_file_shares_its_future_features_between_its_series(tmp_path):
    times = pd.date_range("2021-01-04", periods=12, freq="D")
    wide = pd.DataFrame({"ds": times, "a": np.arange(12.0), "b": np.arange(12.0) * 2,
                         "promo": [0, 1] * 6})
    wide.iloc[:10].assign(promo=wide.promo).to_csv(tmp_path / "wide.csv", index=False)
    frame = wide.copy()
    frame.loc[10:, ["a", "b"]] = np.nan  # two rows past the end, targets empty
    frame.to_csv(tmp_path / "wide.csv", index=False)
    cfg = FitConfig(targets=("a", "b"), future_features=("promo",))
    panel = read_panel(tmp_path / "wide.csv", cfg)
    assert panel.lengths.tolist() == [10, 10]
    assert panel.schema.channels == ("value", "promo")
    values = future_values.read(tmp_path / "wide.csv", cfg, panel, 2, "m.fcst", False)
    assert values.tolist() == [[[0.0], [1.0]], [[0.0], [1.0]]]


def test_the_direct_head_reads_the_whole_horizons_future_features_and_not_the_calendar():
    cfg = FitConfig(window=6, horizon=3, hidden=4, baseline="none", highway=False,
                    dropout=0.0)
    dims = Dimensions(n_inputs=6, n_targets=1, n_calendar=2, n_future=2)
    torch.manual_seed(0)
    net = Forecaster(cfg, dims).eval()
    assert net.head.in_features == 4 + 3 * 2  # final state, then H x F future values
    x, known = torch.randn(2, 6, 6), torch.randn(2, 3, 4)
    base = net(x, known)
    calendar_changed = known.clone()
    calendar_changed[..., 2:] += 1.0
    assert torch.equal(net(x, calendar_changed), base)
    future_changed = known.clone()
    future_changed[:, 2, 0] += 1.0  # the last step's first future feature
    assert not torch.allclose(net(x, future_changed)[:, 0], base[:, 0])  # every step reads it


def test_a_future_feature_cannot_also_be_a_target_or_a_past_feature():
    with pytest.raises(ConfigError, match="'p' is given both as --features and as "
                                          "--future-features"):
        FitConfig(features=("p",), future_features=("p",))
    with pytest.raises(ConfigError, match="'y' is given both as --target and as "
                                          "--future-features"):
        FitConfig(targets=("y",), future_features=("y",))


def test_evaluate_leaves_room_for_the_future_values_the_direct_head_reads(promo_model):
    folder, _ = promo_model
    report = api.evaluate(folder / "m.fcst", folder / "data.csv", horizon=2, folds=1,
                          device_spec="cpu")
    # the head reads 5 steps of promotions: the origin is 5 steps before the end, not 2
    assert report["forecasts"] == 3
    assert report["per_fold"][0]["origin"] == "2020-02-25"


def test_a_future_file_in_another_time_zone_is_matched_by_the_instant(tmp_path):
    frame = promo_panel(tmp_path / "plain.csv", series=2, days=60)
    zoned = frame.assign(ds=frame.ds.dt.tz_localize("UTC+05:00"))
    zoned.to_csv(tmp_path / "data.csv", index=False)
    cfg = FitConfig(window=14, horizon=5, max_steps=5, future_features=("promo",),
                    device="cpu")
    api.fit(tmp_path / "data.csv", cfg, tmp_path / "m.fcst")
    ahead = future_rows(frame, 5).assign(ds=lambda f: f.ds.dt.tz_localize("UTC+05:00"))
    ahead.to_csv(tmp_path / "own.csv", index=False)
    # the same instants in UTC: 19:00 the day before, by the clock
    ahead.assign(ds=ahead.ds.dt.tz_convert("UTC")).to_csv(tmp_path / "utc.csv", index=False)
    own, utc = (run_cli(["predict", tmp_path / "m.fcst", tmp_path / "data.csv", "--future",
                         tmp_path / name]) for name in ("own.csv", "utc.csv"))
    assert own.exit_code == utc.exit_code == 0, utc.stderr
    assert own.stdout == utc.stdout and "+05:00" in own.stdout.splitlines()[1]
    # times without a zone name no instant: refused in one line
    future_rows(frame, 5).to_csv(tmp_path / "naive.csv", index=False)
    naive = run_cli(["predict", tmp_path / "m.fcst", tmp_path / "data.csv", "--future",
                     tmp_path / "naive.csv"])
    assert naive.exit_code == 2 and len(naive.stderr.strip().splitlines()) == 1
    assert "times are without a zone but DATA's are in time zone UTC+05:00" in naive.stderr


def test_data_and_future_cannot_both_be_stdin(promo_model):
    folder, _ = promo_model
    for data in (["-"], []):
        both = run_cli(["predict", folder / "m.fcst", *data, "--future", "-"],
                       input=(folder / "data.csv").read_bytes())
        assert both.exit_code == 2
        assert "DATA and --future cannot both be stdin: give one of them as a file" in \
            both.stderr


def test_a_future_file_without_the_feature_names_it_as_a_future_feature(promo_model):
    folder, frame = promo_model
    future_rows(frame, 5).rename(columns={"promo": "offer"}).to_csv(folder / "offer.csv",
                                                                   index=False)
    result = run_cli(["predict", folder / "m.fcst", folder / "data.csv", "--future",
                      folder / "offer.csv"])
    assert result.exit_code == 2
    assert f"offer.csv: no column 'promo' (a future feature of model {folder / 'm.fcst'}); " \
           f"the columns are unique_id, ds, offer" in result.stderr
