"""predict and evaluate end to end: layouts, timestamps, formats, pipelines and exit status."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA, seasonal_frame

TINY = ["--hidden", "8", "--layers", "1", "--epochs", "2", "--batch-size", "64"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny models fitted once per module: monthly long, quarterly wide, hourly, daily."""
    from tests.conftest import run_cli

    folder = tmp_path_factory.mktemp("models")
    daily = folder / "daily.csv"
    seasonal_frame(n_series=2, length=80, period=7, freq="D").to_csv(daily, index=False)
    paths = {"folder": folder, "daily_data": daily}
    for name, data, extra in [
        ("long", SAMPLE_DATA / "long.csv", ["--window", "24", "--horizon", "6"]),
        ("wide", SAMPLE_DATA / "wide.csv", ["--window", "8", "--horizon", "4"]),
        ("hourly", SAMPLE_DATA / "hourly.csv", ["--window", "24", "--horizon", "5",
                                                 "--target", "demand", "--features",
                                                 "temperature,workday", "--calendar"]),
        ("daily", daily, ["--window", "14", "--horizon", "3"]),
    ]:
        paths[name] = folder / f"{name}.fcst"
        result = run_cli(["fit", data, "-o", paths[name], *TINY, *extra])
        assert result.exit_code == 0, result.stderr
    return paths


def test_long_layout_and_monthly_timestamps(cli, models):
    result = cli(["predict", models["long"], SAMPLE_DATA / "long.csv"])
    assert result.exit_code == 0 and result.stderr == ""
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["unique_id", "ds", "y"]
    assert len(frame) == 8 * 6 and frame["y"].notna().all()
    first = frame[frame.unique_id == "leisure_hospitality"]["ds"].tolist()
    assert first == ["2019-10-01", "2019-11-01", "2019-12-01", "2020-01-01", "2020-02-01",
                     "2020-03-01"]
    assert frame["unique_id"].drop_duplicates().tolist()[0] == "leisure_hospitality"


def test_wide_layout_quarterly(cli, models):
    frame = pd.read_csv(io.StringIO(cli(["predict", models["wide"],
                                         SAMPLE_DATA / "wide.csv"]).stdout))
    header = (SAMPLE_DATA / "wide.csv").read_text().splitlines()[0].split(",")
    assert list(frame.columns) == header
    assert frame["quarter"].tolist() == ["2017-01-01", "2017-04-01", "2017-07-01", "2017-10-01"]


def test_hourly_with_features_and_calendar(cli, models):
    result = cli(["predict", models["hourly"], SAMPLE_DATA / "hourly.csv", "--horizon", "3"])
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["time", "demand"]
    assert frame["time"].tolist() == ["2014-02-26 00:00:00", "2014-02-26 01:00:00",
                                      "2014-02-26 02:00:00"]
    assert frame["demand"].between(2, 8).all()  # demand in GW stays in a sane range


def test_daily_timestamps_and_json_lines(cli, models):
    result = cli(["predict", models["daily"], models["daily_data"], "--format", "json"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["ds"] for r in rows[:3]] == ["2000-03-21T00:00:00", "2000-03-22T00:00:00",
                                           "2000-03-23T00:00:00"]
    assert set(rows[0]) == {"unique_id", "ds", "y"} and len(rows) == 6


def test_with_history_output_file_and_stdin(cli, models, tmp_path):
    output = tmp_path / "forecast.csv"
    text = (SAMPLE_DATA / "long.csv").read_text()
    result = cli(["predict", models["long"], "-", "-o", output, "--with-history"], input=text)
    assert result.exit_code == 0 and result.stdout == ""
    frame = pd.read_csv(output)
    assert len(frame) == 1236 + 8 * 6
    one = frame[frame.unique_id == "financial_activities"]
    assert one["ds"].iloc[0] == "2013-01-01" and one["ds"].iloc[-1] == "2020-03-01"
    original = pd.read_csv(SAMPLE_DATA / "long.csv")
    np.testing.assert_allclose(one["y"].iloc[:81], original[original.unique_id ==
                                                             "financial_activities"]["y"],
                               rtol=1e-6)


def test_mark_forecasts_tells_history_rows_from_forecast_rows(cli, models, tmp_path):
    long = cli(["predict", models["long"], SAMPLE_DATA / "long.csv", "--with-history",
                "--mark-forecasts"])
    assert long.exit_code == 0, long.stderr
    frame = pd.read_csv(io.StringIO(long.stdout))
    assert list(frame.columns) == ["unique_id", "ds", "is_forecast", "y"]
    assert frame["is_forecast"].dtype == bool and int(frame["is_forecast"].sum()) == 8 * 6
    one = frame[frame.unique_id == "financial_activities"]
    assert not one["is_forecast"].iloc[:81].any() and one["is_forecast"].iloc[81:].all()
    assert one["ds"].iloc[81] == "2019-10-01"  # the first step after the history
    wide = pd.read_csv(io.StringIO(cli(["predict", models["wide"], SAMPLE_DATA / "wide.csv",
                                        "--with-history", "--mark-forecasts"]).stdout))
    assert list(wide.columns[:2]) == ["quarter", "is_forecast"]
    assert wide["is_forecast"].tolist() == [False] * (len(wide) - 4) + [True] * 4
    alone = cli(["predict", models["wide"], SAMPLE_DATA / "wide.csv", "--mark-forecasts",
                 "-o", tmp_path / "f.parquet"])  # without history: every row a forecast
    assert alone.exit_code == 0, alone.stderr
    assert pd.read_parquet(tmp_path / "f.parquet")["is_forecast"].tolist() == [True] * 4
    from forecastr import api

    empty = api.forecast_frame(models["long"], pd.DataFrame(), with_history=True,
                               mark_forecasts=True)
    assert list(empty.columns) == ["unique_id", "ds", "is_forecast", "y"] and not len(empty)
    clash = tmp_path / "clash.csv"  # a series of that name
    pd.read_csv(SAMPLE_DATA / "wide.csv").iloc[:, :2].rename(
        columns={"NSWMetro": "is_forecast"}).to_csv(clash, index=False)
    fitted = cli(["fit", clash, "-o", tmp_path / "clash.fcst", *TINY, "--window", "8",
                  "--horizon", "2"])
    assert fitted.exit_code == 0, fitted.stderr
    refused = cli(["predict", tmp_path / "clash.fcst", clash, "--mark-forecasts"])
    assert refused.exit_code == 2 and "adds a column 'is_forecast', which the forecasts " \
        "have already" in refused.stderr


def test_horizon_and_schema_errors_exit_2(cli, models, tmp_path):
    longer = cli(["predict", models["long"], SAMPLE_DATA / "long.csv", "--horizon", "7"])
    assert longer.exit_code == 2 and "between 1 and 6, the horizon" in longer.stderr
    wrong = cli(["predict", models["long"], SAMPLE_DATA / "single.csv"])
    assert wrong.exit_code == 2 and "'ds'" in wrong.stderr and wrong.stdout == ""
    daily = cli(["predict", models["long"], models["daily_data"]])
    assert daily.exit_code == 2 and f"frequency D but {models['long']} was fitted at MS" in \
        daily.stderr
    assert cli(["predict", tmp_path / "none.fcst", SAMPLE_DATA / "long.csv"]).exit_code == 2


def test_new_series_policy(cli, models, tmp_path):
    renamed = pd.read_csv(SAMPLE_DATA / "long.csv")
    renamed["unique_id"] = renamed["unique_id"].str.upper()
    path = tmp_path / "renamed.csv"
    renamed.to_csv(path, index=False)
    forecast = cli(["predict", models["long"], path])
    assert forecast.exit_code == 0 and "LEISURE_HOSPITALITY" in forecast.stdout
    assert f"{path}: forecast 8 series unseen in training (e.g. " in forecast.stderr
    assert cli(["predict", models["long"], SAMPLE_DATA / "long.csv"]).stderr == ""  # all known
    error = cli(["predict", models["long"], path, "--new-series", "error"])
    assert error.exit_code == 2 and "'LEISURE_HOSPITALITY' was not in the training data" in \
        error.stderr


def test_short_history_is_padded_with_a_warning(cli, models, tmp_path):
    short = pd.read_csv(SAMPLE_DATA / "long.csv").groupby("unique_id").tail(5)
    path = tmp_path / "short.csv"
    short.to_csv(path, index=False)
    result = cli(["predict", models["long"], path])
    assert result.exit_code == 0
    assert "left-padded 8 series with less history than the window (24)" in result.stderr
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 48


def test_shell_pipeline_and_broken_pipe(models, tmp_path):
    big = seasonal_frame(n_series=3000, length=30)  # ~2 MB of history: more than a pipe holds
    data = tmp_path / "big.csv"
    big.to_csv(data, index=False)
    forecastr = f"{sys.executable} -m forecastr"
    piped = subprocess.run(
        ["bash", "-c", f"set -o pipefail; cat {SAMPLE_DATA / 'long.csv'} | {forecastr} predict "
                       f"{models['long']} - | grep -c leisure"],
        capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout.strip() == "6" and piped.stderr == ""
    head = subprocess.run(
        ["bash", "-c", f"{forecastr} predict {models['long']} {data} --with-history --quiet "
                       f"| head -2"],
        capture_output=True, text=True)
    assert head.stdout.splitlines() == ["unique_id,ds,y", "s0,2000-01-01,10.0126"]
    assert head.stderr == ""
    # a reader that reads nothing: the write fails at once, quietly, with 128 + SIGPIPE
    # (--quiet: these series are unseen in training, which is a warning of its own)
    closed = subprocess.run(
        ["bash", "-c", f"{forecastr} predict {models['long']} {data} --with-history --quiet "
                       f"| true; echo status=${{PIPESTATUS[0]}}"], capture_output=True, text=True)
    assert closed.stdout == "status=141\n" and closed.stderr == ""


def test_evaluate_table_json_and_golden_structure(cli, models):
    table = cli(["evaluate", models["long"], SAMPLE_DATA / "long.csv", "--folds", "2"])
    assert table.exit_code == 0, table.stderr
    shown = " ".join(table.stdout.split())
    assert "sMAPE %" in shown and "MAPE %" in shown  # percentages, labelled so
    assert "MASE relative to the references: " in shown and "the best of them" in shown
    assert "theta" in shown
    report = json.loads(cli(["evaluate", models["long"], SAMPLE_DATA / "long.csv", "--json",
                             "--folds", "2", "--step", "3"]).stdout)
    assert (report["horizon"], report["folds"], report["step"], report["season"]) == (6, 2, 3, 12)
    assert report["forecasts"] == 16 and len(report["per_series"]) == 8
    assert [f["origin"] for f in report["per_fold"]] == ["2019-04-01", "2019-01-01"]
    assert len(report["per_step_mae"]["model"]) == 6
    assert set(report["overall"]["model"]) == {"mae", "rmse", "mape", "smape", "mase", "bias"}
    ratio = report["overall"]["model"]["mase"] / report["overall"]["seasonal_naive"]["mase"]
    assert report["overall"]["relative_mase"] == pytest.approx(ratio)
    naive = report["overall"]["model"]["mase"] / report["overall"]["naive"]["mase"]
    assert report["overall"]["relative_mase_naive"] == pytest.approx(naive)
    theta = report["overall"]["model"]["mase"] / report["overall"]["theta"]["mase"]
    assert report["overall"]["relative_mase_theta"] == pytest.approx(theta)
    assert len(report["per_step_mae"]["theta"]) == 6


def test_the_verdict_judges_against_the_best_reference():
    from forecastr.cli.ui import verdict

    # worse than naive, better than seasonal naive: it was "better than seasonal naive"
    assert verdict(0.9, 1.2) == ("MASE relative to the references: 0.900 to seasonal naive, "
                                 "1.200 to naive (the model is no better than the best of "
                                 "them, naive)")
    assert verdict(0.8, 0.7).endswith("(the model is better than the best of them, "
                                      "seasonal naive)")
    assert verdict(0.8, 0.7, 1.05) == ("MASE relative to the references: 0.800 to seasonal "
                                       "naive, 0.700 to naive, 1.050 to theta (the model is "
                                       "no better than the best of them, theta)")
    nan = float("nan")
    assert verdict(nan, 0.5) == "MASE relative to naive: 0.500 (the model is better than naive)"
    assert verdict(nan, nan) == "MASE relative to the baselines: undefined (see below)"


def test_evaluate_plot(cli, models, tmp_path):
    pytest.importorskip("matplotlib")
    image = tmp_path / "backtest.png"
    result = cli(["evaluate", models["long"], SAMPLE_DATA / "long.csv", "--plot", image])
    assert result.exit_code == 0 and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_plot_without_matplotlib_is_a_clear_error(cli, models, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    result = cli(["evaluate", models["long"], SAMPLE_DATA / "long.csv", "--plot",
                  tmp_path / "x.png"])
    assert result.exit_code == 2
    assert result.stderr == ("forecastr: error: --plot needs matplotlib: pip install "
                             "matplotlib (or, from a checkout of forecastr, pip install -e "
                             "'.[plot]')\n")


def test_a_series_without_history_is_an_error_naming_it(cli, models, tmp_path):
    frame = pd.read_csv(SAMPLE_DATA / "long.csv")
    frame.loc[frame.unique_id == "construction", "y"] = np.nan
    path = tmp_path / "hole.csv"
    frame.to_csv(path, index=False)
    result = cli(["predict", models["long"], path])
    assert result.exit_code == 2 and result.stdout == ""
    assert "series 'construction' has no usable history" in result.stderr


def test_predict_without_data_reads_stdin_but_not_from_a_terminal(cli, models):
    text = (SAMPLE_DATA / "long.csv").read_text()
    piped = cli(["predict", models["long"]], input=text)
    assert piped.exit_code == 0 and len(pd.read_csv(io.StringIO(piped.stdout))) == 48
    pty = pytest.importorskip("pty")
    main_fd, terminal = pty.openpty()  # stdin is a terminal: nobody is piping data in
    try:
        typed = subprocess.run([sys.executable, "-m", "forecastr", "predict",
                                str(models["long"])], stdin=terminal, capture_output=True,
                               text=True, timeout=60)
    finally:
        os.close(main_fd)
        os.close(terminal)
    assert typed.returncode == 2 and "pipe the data to stdin" in typed.stderr


def test_an_id_with_a_carriage_return_is_quoted_so_the_output_reads_back(cli, tmp_path):
    frame = pd.read_csv(Path(__file__).parent / "fixtures" / "series.csv")
    frame["unique_id"] = frame["unique_id"].map({"a": "a\rx", "b": "b"})
    data = tmp_path / "cr.csv"
    frame.to_csv(data, index=False, quoting=csv.QUOTE_ALL)
    model = Path(__file__).parent / "fixtures" / "model-v3.fcst"
    output = tmp_path / "out.csv"
    assert cli(["predict", model, data, "--with-history", "-o", output]).exit_code == 0
    assert output.read_bytes().startswith(b'"unique_id","ds","y"\n"a\rx","2001-01-01",')
    report = json.loads(cli(["inspect", output, "--json"]).stdout)
    assert [(s["id"], s["length"]) for s in report["series"]] == [("a\rx", 43), ("b", 43)]


def test_zero_constant_tiny_and_huge_series_are_forecast_sensibly(cli, tmp_path):
    steps = np.arange(60)
    season = np.sin(2 * np.pi * steps / 12)
    values = {"zero": np.zeros(60), "five": np.full(60, 5.0), "tiny": 3e-9 * (2 + season),
              "huge": 1e9 * (2 + season), "1e-30": 1e-30 * (2 + season),
              "1e30": 1e30 * (2 + season), "1e38": 1e38 * (2 + season)}
    frame = pd.concat([pd.DataFrame({"unique_id": name, "y": y,
                                     "ds": pd.date_range("2001-01-01", periods=60, freq="MS")})
                       for name, y in values.items()])
    data, model = tmp_path / "mixed.csv", tmp_path / "m.fcst"
    frame.to_csv(data, index=False)
    assert cli(["fit", data, "-o", model, "--hidden", "8", "--max-steps", "30", "--window",
                "24", "--horizon", "6", "--val-windows", "2", "--baseline", "none"]).exit_code == 0
    result = cli(["predict", model, data])
    forecast = pd.read_csv(io.StringIO(result.stdout)).groupby("unique_id")["y"]
    assert (forecast.get_group("zero") == 0).all()  # exactly, whatever the network learned
    assert (forecast.get_group("five") == 5).all()
    tiny, huge = forecast.get_group("tiny"), forecast.get_group("huge")
    assert tiny.between(0, 1e-8).all() and huge.between(0, 5e9).all()
    # float32 squares of these overflow (1e30, 1e38) or vanish (1e-30): scaled in float64
    for name, size in (("1e-30", 1e-30), ("1e30", 1e30), ("1e38", 1e38)):
        assert forecast.get_group(name).between(0, 5 * size).all()


def test_a_forecast_that_is_not_finite_is_an_error_and_json_is_strict(cli, tmp_path,
                                                                     monkeypatch):
    from forecastr.cli.ui import json_text
    from forecastr.forecasting import forecast

    steps = np.arange(60)
    frame = pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=60, freq="MS"),
                          "y": 1e25 * (2 + np.sin(2 * np.pi * steps / 12))})
    data, model = tmp_path / "huge.csv", tmp_path / "m.fcst"
    frame.to_csv(data, index=False)
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "24", "--horizon", "6", "--val-windows", "2"]).exit_code == 0
    result = cli(["predict", model, data])  # before: -inf, exit 0 (float32 scaling)
    assert result.exit_code == 0 and np.isfinite(pd.read_csv(io.StringIO(result.stdout))["y"]).all()
    forward = forecast.forward

    def overflowing(*args, **kwargs):  # a network that gives inf, as none should
        values, times = forward(*args, **kwargs)
        return np.full_like(values, np.inf), times

    monkeypatch.setattr(forecast, "forward", overflowing)
    result = cli(["predict", model, data])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"forecastr: error: {data}: the forecast of series 'y' is "
                                    f"not a finite number (1 such series); its values reach 3e+25")
    assert json_text({"a": float("inf"), "b": [float("nan"), -float("inf")], "c": 1.5}) == \
        '{\n  "a": null,\n  "b": [\n    null,\n    null\n  ],\n  "c": 1.5\n}\n'


def test_data_in_another_time_zone_than_the_model_s_is_refused(cli, tmp_path):
    times = pd.date_range("2024-01-01", periods=200, freq="h", tz="UTC")
    values = 10 + np.sin(2 * np.pi * np.arange(200) / 24)
    utc, model = tmp_path / "utc.csv", tmp_path / "m.fcst"
    pd.DataFrame({"time": times, "y": values}).to_csv(utc, index=False)
    assert cli(["fit", utc, "-o", model, "--hidden", "4", "--max-steps", "2", "--window", "24",
                "--horizon", "6", "--val-windows", "1"]).exit_code == 0
    shifted = tmp_path / "plus5.csv"
    pd.DataFrame({"time": times.tz_convert("Asia/Karachi"), "y": values}).to_csv(shifted,
                                                                                index=False)
    result = cli(["predict", model, shifted])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "times are in time zone" in result.stderr and "but " in result.stderr
    assert "was fitted on UTC" in result.stderr
    assert cli(["predict", model, utc]).exit_code == 0


def test_history_is_written_as_read_and_forecasts_to_float32_digits(cli, tmp_path):
    steps = np.arange(48)
    exact = ["1234567.891", "16777217", "0.1", "123456789012.25"]  # float32 changes each
    y = 2e6 + 1e5 * np.sin(2 * np.pi * steps / 12)
    frame = pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=48, freq="MS"), "y": y})
    data, model = tmp_path / "exact.csv", tmp_path / "m.fcst"
    text = frame.to_csv(index=False).splitlines()
    text[1:5] = [f"{line.split(',')[0]},{value}" for line, value in zip(text[1:5], exact)]
    data.write_text("\n".join(text) + "\n")
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "24", "--horizon", "6", "--val-windows", "1"]).exit_code == 0
    lines = cli(["predict", model, data, "--with-history"]).stdout.splitlines()
    # the values as read (they came out as 1234567.9, 16777216, 0.10000000149, ...)
    assert [float(line.split(",")[1]) for line in lines[1:5]] == [float(v) for v in exact]
    for line in lines[49:]:  # forecasts: no float32 noise digits (1234.5678710937500)
        digits = line.split(",")[1].replace(".", "").replace("-", "").strip("0")
        assert 0 < len(digits) <= 8, line


def test_evaluate_scores_the_actuals_as_read(cli, tmp_path):
    # float32 holds 100,000,000.25 as 100,000,000: every naive error would read 0
    frame = pd.DataFrame({"t": np.arange(80), "y": 1e8 + 0.25 * np.arange(80)})
    data, model = tmp_path / "fine.csv", tmp_path / "m.fcst"
    frame.to_csv(data, index=False)
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "12", "--horizon", "4", "--val-windows", "1"]).exit_code == 0
    report = json.loads(cli(["evaluate", model, data, "--json"]).stdout)
    assert report["overall"]["naive"]["mae"] == pytest.approx(0.25 * (1 + 2 + 3 + 4) / 4,
                                                              rel=1e-9)


@pytest.mark.parametrize(("freq", "end", "room"), [("h", "2262-04-11 20:00", 3),
                                                   ("D", "2262-04-10", 1),
                                                   ("MS", "2262-03-01", None)])
def test_forecast_times_past_pandas_range_are_an_error_not_a_wrap(cli, tmp_path, freq, end,
                                                                    room):
    times = pd.date_range(end=end, periods=80, freq=freq)
    data, model = tmp_path / "edge.csv", tmp_path / "m.fcst"
    pd.DataFrame({"ds": times, "y": 10 + np.sin(np.arange(80) / 1.9)}).to_csv(data, index=False)
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "12", "--horizon", "6", "--val-windows", "1"]).exit_code == 0
    result = cli(["predict", model, data])  # before: hourly and daily wrapped to 1677
    assert (result.exit_code, result.stdout) == (2, "")
    fewer = f"pass --horizon {room} or less" if room else "forecast fewer steps (--horizon)"
    assert result.stderr == (f"forecastr: error: {data}: series 'y' ends at "
                             f"{pd.Timestamp(end)}, and 6 steps after it pass 2262-04-11 "
                             f"23:47:16, the last time pandas holds; {fewer}\n")
    if room:  # the steps that fit are forecast
        lines = cli(["predict", model, data, "--horizon", str(room)]).stdout.splitlines()
        assert len(lines) == room + 1 and lines[-1].startswith("2262-04-1")


def test_integer_steps_past_int64_are_an_error_not_an_overflow(cli, tmp_path):
    data, model = tmp_path / "steps.csv", tmp_path / "m.fcst"
    pd.DataFrame({"t": np.arange(60), "y": np.sin(np.arange(60) / 1.9)}).to_csv(data,
                                                                                 index=False)
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "12", "--horizon", "6", "--val-windows", "1"]).exit_code == 0
    far = tmp_path / "far.csv"  # two points: a step of almost 2e18
    far.write_text("t,y\n-999999999999999999,1\n999999999999999999,2\n")
    result = cli(["predict", model, far])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"{far}: series 'y' ends at 999999999999999999, and 6 steps after it pass "
        f"9,223,372,036,854,775,807, the largest step; pass --horizon 4 or less\n")


def test_only_errors_that_suggest_a_fit_option_say_the_model_fixes_it(cli, tmp_path):
    model = tmp_path / "m.fcst"
    data = tmp_path / "data.csv"
    seasonal_frame(n_series=1, length=40).to_csv(data, index=False)
    assert cli(["fit", data, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "12", "--horizon", "4", "--val-windows", "1"]).exit_code == 0
    # a path with " --" in it was taken for a message that suggests a fit option
    missing = cli(["predict", model, tmp_path / "sales --old.csv"])
    assert missing.stderr.endswith("sales --old.csv: no such file; check the path\n")
    doubled = tmp_path / "doubled.csv"
    text = data.read_text().splitlines()
    doubled.write_text("\n".join([*text, text[-1]]) + "\n")  # the last row twice
    result = cli(["predict", model, doubled])
    assert result.exit_code == 2 and "pass --duplicates first|last|mean|sum" in result.stderr
    assert result.stderr.rstrip().endswith("(a fit option: model reads DATA with the options "
                                           "it was fitted with; fix DATA or refit)".replace(
                                               "model", str(model)))


def test_the_library_predict_writes_and_validates_like_the_cli(tmp_path):
    from forecastr import api
    from forecastr.config import FitConfig
    from forecastr.errors import ConfigError, OutputError

    model = tmp_path / "m.fcst"
    data = tmp_path / "data.csv"
    seasonal_frame(n_series=2, length=40).to_csv(data, index=False)
    api.fit(data, FitConfig(hidden=4, max_steps=2, window=12, horizon=4, val_windows=1), model)
    out = tmp_path / "forecast.json"
    frame = api.predict(model, data, horizon=2, output=out, fmt="json", device_spec="cpu")
    assert len(frame) == 4 and out.read_text().count("\n") == 4  # JSON lines, atomically
    for wrong, message in [({"horizon": 0}, "--horizon must be a whole number of at least 1"),
                           ({"new_series": "maybe"}, "--new-series must be one of forecast, "
                                                     "skip, error; got 'maybe'"),
                           ({"fmt": "xml"}, "--fmt must be one of csv, json, parquet; got 'xml'")]:
        with pytest.raises(ConfigError, match=message):
            api.predict(model, data, **wrong)
    with pytest.raises(OutputError, match="is DATA"):  # checked before any work
        api.predict(model, data, output=data)
    with pytest.raises(ConfigError, match="--folds must be a whole number of at least 1"):
        api.evaluate(model, data, folds=0)
    with pytest.raises(TypeError):  # keyword-only: no option is taken for another
        api.predict(model, data, 2)
