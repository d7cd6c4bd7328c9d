"""evaluate MODEL MODEL ... DATA: several models scored on the same origins, in one table
with the references once and a verdict for each; one model is evaluated as before."""

from __future__ import annotations

import json

import pytest

from forecastr import api
from forecastr.config import FitConfig
from forecastr.errors import ConfigError
from tests.conftest import run_cli, seasonal_frame

SMALL = FitConfig(max_steps=10, batch_size=32, epoch_size=64, window=12, horizon=4,
                  device="cpu", hidden=8)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    data = folder / "d.csv"
    seasonal_frame(n_series=3, length=60).to_csv(data, index=False)
    gru, lstm = folder / "gru.fcst", folder / "lstm.fcst"
    api.fit(data, SMALL, gru)
    api.fit(data, FitConfig(**{**SMALL.__dict__, "cell": "lstm", "horizon": 6}), lstm)
    return data, gru, lstm


def test_each_model_scores_as_evaluate_scores_it_on_the_shortest_horizon(fitted):
    data, gru, lstm = fitted
    report = api.compare([gru, lstm], data, folds=2)
    assert report["horizon"] == 4 and report["step"] == 4  # the shorter of 4 and 6
    for entry, path in zip(report["models"], (gru, lstm)):
        alone = api.evaluate(path, data, folds=2, horizon=4)
        assert entry["model"] == str(path)
        assert entry["scores"] == alone["overall"]["model"]
        assert entry["relative_mase_theta"] == alone["overall"]["relative_mase_theta"]
    alone = api.evaluate(gru, data, folds=2, horizon=4)
    assert report["references"] == {name: alone["overall"][name]
                                     for name in ("naive", "seasonal_naive", "theta")}
    best = min(report["models"], key=lambda m: m["scores"]["mase"])
    assert report["best"] == best["model"]


def test_the_command_shows_one_table_with_the_references_once(fitted, monkeypatch):
    data, gru, lstm = fitted
    monkeypatch.chdir(data.parent)  # short names, so that no cell wraps
    result = run_cli(["evaluate", "gru.fcst", "lstm.fcst", "d.csv", "--folds", "2"])
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert text.startswith("d.csv: 6 forecasts of 4 steps per model from 2 origin(s), 4 "
                           "steps apart; season 12")
    rows = [line.split("│")[1].strip() for line in result.stdout.splitlines()
            if line.startswith("│")]
    assert rows == ["gru.fcst", "lstm.fcst", "naive", "seasonal naive", "theta"]
    for name in ("gru.fcst", "lstm.fcst"):
        assert text.count(f"{name}: MASE relative to the references") == 1
    assert result.stdout.splitlines()[-1] in ("best by MASE: gru.fcst",
                                              "best by MASE: lstm.fcst")


def test_each_models_verdict_says_what_it_forecasts_with(fitted, monkeypatch):
    data, gru, lstm = fitted
    monkeypatch.chdir(data.parent)
    report = api.compare([gru, lstm], data, folds=2)
    text = " ".join(run_cli(["evaluate", "gru.fcst", "lstm.fcst", "d.csv", "--folds", "2"]
                            ).stdout.split())
    for entry, path in zip(report["models"], (gru, lstm)):
        start = entry["starting_point"]
        assert start == api.info(path)["starting_point"]
        if start["kept"] == "baseline":
            assert "forecasts its seasonal-naive starting point alone" in text
        else:
            below = 1 - start["best_loss"] / start["baseline_loss"]
            assert (f"its network's validation loss {below:.0%} below its seasonal-naive "
                    f"starting point's") in text


def test_json_and_stdin_serve_several_models(fitted):
    data, gru, lstm = fitted
    result = run_cli(["evaluate", gru, lstm, "-", "--folds", "2", "--json"],
                     input=data.read_bytes())
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [m["model"] for m in report["models"]] == [str(gru), str(lstm)]
    assert set(report["references"]) == {"naive", "seasonal_naive", "theta"}


def test_a_plot_takes_one_model_and_a_model_is_needed(fitted, tmp_path):
    data, gru, lstm = fitted
    result = run_cli(["evaluate", gru, lstm, data, "--plot", tmp_path / "p.png"])
    assert result.exit_code == 2 and "--plot draws one model's forecasts" in result.stderr
    result = run_cli(["evaluate", gru])
    assert result.exit_code == 2 and "Missing argument 'DATA'" in result.stderr
    with pytest.raises(ConfigError, match="at least one model"):
        api.compare([], data)
