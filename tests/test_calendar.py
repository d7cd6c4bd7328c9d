"""What a frequency implies (season, window, horizon, calendar inputs) for every kind of
time axis, whichever pandas release reads it, and the calendar features themselves."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecastr.config import FitConfig
from forecastr.data import calendar
from forecastr.data.calendar import Rhythm, rhythm
from forecastr.data.timegrid import fixed_step
from tests.conftest import SAMPLE_DATA, run_cli

DAY = ("weekday", "month")
CLOCK = ("hour", "weekday")


@pytest.mark.parametrize(("freq", "expected"), [
    ("D", Rhythm(7, 56, 14, DAY, True)),
    ("2D", Rhythm(1, 56, 14, DAY, True)),
    ("B", Rhythm(5, 40, 10, DAY, True)),
    ("C", Rhythm(5, 40, 10, DAY, True)),
    ("h", Rhythm(24, 168, 48, CLOCK, True, baseline="theta")),
    # segments of a day from half-hourly on
    ("30min", Rhythm(48, 336, 96, CLOCK, True, 48, "theta")),
    ("15min", Rhythm(96, 672, 192, CLOCK, True, 96, "theta")),
    ("7min", Rhythm(1, 7, 2, CLOCK, True, baseline="theta")),  # no whole number of steps per day
    ("s", Rhythm(86400, 1024, 512, CLOCK, True, 86400, "theta")),
    # a day of steps past what a model file holds (100,000): no season, so that fit writes
    # a model predict can read
    ("250ms", Rhythm(1, 1024, 512, CLOCK, True, 1, "theta")),
    ("100us", Rhythm(1, 1024, 512, CLOCK, True, 1, "theta")),
    ("W-SUN", Rhythm(52, 52, 13, ("week",))),
    ("MS", Rhythm(12, 36, 18, ("month",))),
    ("QS-JAN", Rhythm(4, 16, 8, ("quarter",))),
    ("YS-JAN", Rhythm(1, 12, 6, (), baseline="theta", loss="mae")),
    (None, Rhythm(1, 24, 12, (), baseline="theta")),
])
def test_rhythm_of_each_frequency(freq, expected):
    assert rhythm(freq) == expected


@pytest.mark.parametrize(("freq", "window", "segment", "settled"), [
    ("30min", None, None, 48), ("15min", None, None, 96), ("h", None, None, 1),
    ("D", None, None, 1), ("MS", None, None, 1), (None, None, None, 1),
    ("30min", 96, None, 48), ("30min", 95, None, 1),  # a window under two days: step by step
    ("30min", None, 1, 1), ("30min", None, 12, 12), ("MS", None, 4, 4)])  # given: kept
def test_the_segment_is_a_day_of_steps_for_half_hourly_and_finer_data(freq, window, segment,
                                                                        settled):
    cfg = calendar.settle(FitConfig(window=window, segment=segment), freq)
    assert cfg.segment == settled


def test_a_default_half_hourly_fit_runs_in_segments_of_a_day(tmp_path, cli):
    model = tmp_path / "m.fcst"
    fast = ["--max-steps", "2", "--hidden", "4", "--layers", "1", "--quiet", "--target",
            "demand"]
    assert cli(["fit", SAMPLE_DATA / "elecdemand.csv.gz", "-o", model, *fast]).exit_code == 0
    config = json.loads(cli(["info", model, "--json"]).stdout)["config"]
    assert (config["window"], config["segment"]) == (336, 48)
    assert cli(["fit", SAMPLE_DATA / "elecdemand.csv.gz", "-o", model, *fast,
                "--segment", "1"]).exit_code == 0
    assert json.loads(cli(["info", model, "--json"]).stdout)["config"]["segment"] == 1


@pytest.mark.parametrize(("freq", "seconds"), [
    ("D", 86_400), ("3D", 3 * 86_400), ("h", 3_600), ("30min", 1_800), ("s", 1),
    ("B", None), ("W-SUN", None), ("MS", None), ("QS-JAN", None), ("YS-JAN", None)])
def test_fixed_step_counts_days_as_fixed_on_every_pandas(freq, seconds):
    # pandas 3 made Day a calendar offset; a naive daily axis still steps by 24 hours
    step = fixed_step(pd.tseries.frequencies.to_offset(freq))
    assert step == (None if seconds is None else seconds * 10**9)


def test_daily_file_is_read_and_fitted_with_daily_defaults(tmp_path, cli):
    days = pd.date_range("2021-01-04", periods=140, freq="D")
    weekly = np.tile([5.0, 6, 7, 6, 5, 1, 1], 20)
    pd.DataFrame({"date": days, "visits": weekly}).to_csv(tmp_path / "daily.csv", index=False)
    report = cli(["inspect", tmp_path / "daily.csv", "--json"])
    assert report.exit_code == 0, report.stderr
    assert '"freq": "D"' in report.stdout and '"horizon": 14' in report.stdout
    fitted = cli(["fit", tmp_path / "daily.csv", "-o", tmp_path / "m.fcst", "--max-steps", "5",
                  "--hidden", "4", "--layers", "1", "--quiet"])
    assert fitted.exit_code == 0, fitted.stderr
    shown = cli(["info", tmp_path / "m.fcst", "--json"])
    assert '"window": 56' in shown.stdout and '"calendar": [\n      "weekday",\n      "month"' \
        in shown.stdout
    scores = cli(["evaluate", tmp_path / "m.fcst", tmp_path / "daily.csv", "--json"])
    assert '"season": 7' in scores.stdout
    forecast = cli(["predict", tmp_path / "m.fcst", tmp_path / "daily.csv"])
    lines = forecast.stdout.splitlines()
    assert len(lines) == 15 and lines[1].startswith("2021-05-24") and \
        lines[-1].startswith("2021-06-06")


def test_calendar_features_are_sines_and_cosines_of_the_cycle():
    times = pd.date_range("2024-01-01", periods=3, freq="D").to_numpy()  # Mon, Tue, Wed
    out = calendar.features(times, ("weekday",))
    angle = 2 * np.pi * np.arange(3) / 7
    np.testing.assert_allclose(out, np.column_stack([np.sin(angle), np.cos(angle)]), atol=1e-6)


@pytest.mark.parametrize(("freq", "settled"), [
    ("YS", "theta"), (None, "theta"), ("h", "theta"), ("30min", "theta"),
    ("MS", "seasonal-naive"), ("QS", "seasonal-naive"), ("W-SUN", "seasonal-naive"),
    ("D", "seasonal-naive")])
def test_the_baseline_is_settled_by_frequency_unless_given(freq, settled):
    assert calendar.settle(FitConfig(), freq).baseline == settled
    assert calendar.settle(FitConfig(baseline="none"), freq).baseline == "none"


@pytest.mark.parametrize(("freq", "settled"), [
    ("YS", "mae"), ("YS-JUL", "mae"), ("MS", "huber"), ("QS", "huber"), ("W-SUN", "huber"),
    ("D", "huber"), ("h", "huber"), (None, "huber")])
def test_the_loss_is_settled_by_frequency_unless_given(freq, settled):
    assert calendar.settle(FitConfig(), freq).loss == settled
    assert calendar.settle(FitConfig(loss="mse"), freq).loss == "mse"


def test_a_yearly_fit_records_the_loss_it_trained_on_and_a_given_one_wins(tmp_path):
    years = pd.date_range("1960-01-01", periods=40, freq="YS")
    pd.DataFrame({"ds": years, "y": np.linspace(10.0, 50.0, 40) + np.sin(np.arange(40))}
                 ).to_csv(tmp_path / "yearly.csv", index=False)
    for given, recorded in ((), "mae"), (("--loss", "huber"), "huber"):
        model = tmp_path / f"{recorded}.fcst"
        fitted = run_cli(["fit", tmp_path / "yearly.csv", "-o", model, "--max-steps", "2",
                          "--hidden", "4", *given])
        assert fitted.exit_code == 0, fitted.stderr
        shown = json.loads(run_cli(["info", model, "--json"]).stdout)
        assert shown["config"]["loss"] == recorded


def test_a_fit_of_quarter_second_data_writes_a_model_every_command_reads(tmp_path):
    times = pd.date_range("2024-01-01", periods=600, freq="250ms")
    pd.DataFrame({"ds": times, "y": np.sin(np.arange(600) / 5)}).to_csv(tmp_path / "d.csv",
                                                                      index=False)
    fitted = run_cli(["fit", tmp_path / "d.csv", "-o", tmp_path / "m.fcst", "--max-steps", "1",
                      "--window", "32", "--horizon", "8"])
    assert fitted.exit_code == 0, fitted.stderr
    for command in (["info", tmp_path / "m.fcst"],
                    ["predict", tmp_path / "m.fcst", tmp_path / "d.csv"]):
        result = run_cli(command)
        assert result.exit_code == 0, result.stderr
