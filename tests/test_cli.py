"""The command line: help and version, light imports, inspect on every sample file, and the
exit statuses and streams that pipelines and cron rely on."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecastr import __version__, api
from tests.conftest import SAMPLE_DATA

HELP_IMPORTS = """
import sys
from forecastr.cli.commands import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "pandas", "numpy", "rich", "yaml") if m in sys.modules)
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["inspect", "--help"], ["--version"]])
def test_help_and_version_import_neither_torch_nor_pandas(args):
    done = subprocess.run([sys.executable, "-c", HELP_IMPORTS, *args], capture_output=True,
                          text=True, check=True)
    assert "HEAVY:\n" in done.stderr, done.stderr


def test_python_dash_m_and_version():
    done = subprocess.run([sys.executable, "-m", "forecastr", "--version"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout == f"forecastr, version {__version__}\n"


def test_help_lists_the_subcommands(cli):
    result = cli(["--help"])
    assert result.exit_code == 0 and "inspect" in result.stdout


@pytest.mark.parametrize("name, layout, n_series", [
    ("single.csv", "single", 1), ("wide.csv", "wide", 20), ("long.csv", "long", 8),
    ("gaps.csv", "single", 1), ("hourly.csv", "wide", 3),
])
def test_inspect_every_sample_file_as_json(cli, name, layout, n_series):
    result = cli(["inspect", SAMPLE_DATA / name, "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is nothing but the report
    assert (report["layout"], report["n_series"]) == (layout, n_series)
    assert report["windows"]["train"] > 0 and report["windows"]["val"] > 0


def test_inspect_table_on_stdout_and_warnings_on_stderr(cli):
    result = cli(["inspect", SAMPLE_DATA / "gaps.csv"])
    assert result.exit_code == 0
    assert "W-SAT" in result.stdout and "39 points" in result.stdout
    assert result.stderr == ("forecastr: warning: " + str(SAMPLE_DATA / "gaps.csv")
                             + ": filled 39 missing point(s) in 1 series (--fill linear)\n")
    quiet = cli(["inspect", SAMPLE_DATA / "gaps.csv", "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_inspect_long_file_golden_json(cli):
    report = json.loads(cli(["inspect", SAMPLE_DATA / "long.csv", "--json", "--window", "24",
                             "--horizon", "12"]).stdout)
    assert report["series"][0] == {"id": "leisure_hospitality", "length": 237,
                                   "start": "2000-01-01", "end": "2019-09-01", "filled": 0}
    assert report["freq"] == "MS" and report["id_col"] == "unique_id"
    # validation targets fill the last H + V - 1 steps of a series; training windows
    # (L inputs + H targets) end before them: n - L - 2H - V + 2 of them per series
    lengths = [s["length"] for s in report["series"]]
    assert report["windows"]["train"] == sum(n - 24 - 2 * 12 - 12 + 2 for n in lengths) == 772
    assert report["windows"]["val"] == 12 * len(lengths)


@pytest.mark.parametrize("name, window, horizon", [
    ("long.csv", 36, 18), ("wide.csv", 16, 8), ("hourly.csv", 168, 48), ("gaps.csv", 52, 13),
])
def test_window_and_horizon_are_suggested_from_the_frequency(cli, name, window, horizon):
    report = json.loads(cli(["inspect", SAMPLE_DATA / name, "--json"]).stdout)
    assert (report["windows"]["window"], report["windows"]["horizon"]) == (window, horizon)


def test_inspect_reads_stdin_and_gzip(cli, tmp_path):
    text = (SAMPLE_DATA / "single.csv").read_text()
    from_stdin = json.loads(cli(["inspect", "-", "--json"], input=text).stdout)
    packed = tmp_path / "single.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    from_gzip = json.loads(cli(["inspect", packed, "--json"]).stdout)
    assert from_stdin["source"] == "<stdin>" and from_gzip["source"] == str(packed)
    assert from_stdin["series"] == from_gzip["series"]
    assert from_gzip["series"][0]["length"] == 204


def test_inspect_with_targets_and_features(cli):
    result = cli(["inspect", SAMPLE_DATA / "hourly.csv", "--json", "--target", "demand",
                  "--features", "temperature,workday"])
    report = json.loads(result.stdout)
    assert report["targets"] == ["demand"] and report["features"] == ["temperature", "workday"]
    assert report["series"][0]["end"] == "2014-02-25 23:00:00"


def test_no_window_possible_reports_then_exits_2(cli):
    result = cli(["inspect", SAMPLE_DATA / "single.csv", "--json", "--window", "300",
                  "--horizon", "300"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["windows"]["error"].startswith(str(SAMPLE_DATA))
    assert result.stderr.count("\n") == 1
    assert "the longest, 'sales', has 204 points; at least 301 are needed" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["inspect"], "Missing argument 'DATA'. (see 'forecastr inspect --help')"),
    (["inspect", "x.csv", "--fill", "cubic"], ("Invalid value for '--fill': 'cubic' is not one "
                                               "of 'linear', 'ffill', 'zero', 'error'. (see "
                                               "'forecastr inspect --help')")),
    (["inspect", "x.csv", "--window", "ten"], "Invalid value for '--window'"),
    (["inspect", "x.csv", "--no-such-flag"], "No such option"),
    (["frobnicate"], "No such command 'frobnicate'. (see 'forecastr --help')"),
])
def test_usage_errors_exit_2_in_one_line(cli, args, message):
    result = cli(args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("forecastr: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_bad_value_from_flag_names_the_flag(cli):
    result = cli(["inspect", SAMPLE_DATA / "single.csv", "--window", "0"])
    assert result.exit_code == 2
    assert result.stderr == "forecastr: error: --window must be at least 1, got 0\n"


def test_bad_input_is_one_line_without_traceback_unless_debug(cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,value\n2020-01-01,1\n2020-01-02,oops\n2020-01-03,2\n")
    result = cli(["inspect", path])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"forecastr: error: {path}, line 3: column 'value' holds 'oops', "
                             f"not a number; fix the cell, or empty it to fill it as a gap\n")
    debug = cli(["inspect", path, "--debug"])
    assert debug.exit_code == 2 and "Traceback" in debug.stderr


def test_unexpected_failure_is_an_internal_error_with_status_1(cli, monkeypatch):
    import forecastr.api

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(forecastr.api, "inspect", explode)
    result = cli(["inspect", SAMPLE_DATA / "single.csv"])
    assert result.exit_code == 1
    assert result.stderr == ("forecastr: internal error: RuntimeError: boom "
                             "(run again with --debug for a traceback)\n")


TINY_FLAGS = ["--hidden", "8", "--layers", "1", "--epochs", "2", "--batch-size", "64",
              "--window", "12", "--horizon", "6"]


@pytest.mark.parametrize("cell, mode, bidirectional", [
    (cell, mode, bidirectional) for cell in ("rnn", "lstm", "gru")
    for mode in ("many-to-one", "many-to-many") for bidirectional in (False, True)])
def test_fit_every_architecture_on_sample_data(cli, tmp_path, cell, mode, bidirectional):
    output = tmp_path / "model.fcst"
    args = ["fit", SAMPLE_DATA / "long.csv", "-o", output, "--cell", cell, "--mode", mode,
            "--bidirectional" if bidirectional else "--no-bidirectional", *TINY_FLAGS]
    result = cli(args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # fit writes a file, never data on stdout
    assert f"trained {cell} {mode}" in result.stderr and f"wrote {output}" in result.stderr
    report = json.loads(cli(["info", output, "--json"]).stdout)
    assert report["architecture"]["cell"] == cell
    assert report["architecture"]["bidirectional"] is bidirectional
    assert report["training"]["epochs_run"] == 2 and report["data"]["n_series"] == 8


def test_fit_default_output_name_and_info_table(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gz = tmp_path / "sales.csv.gz"
    gz.write_bytes(gzip.compress((SAMPLE_DATA / "single.csv").read_bytes()))
    result = cli(["fit", gz, *TINY_FLAGS, "--verbose", "--calendar"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "sales.fcst").exists()
    # not a terminal: no progress bar, one log line per epoch with --verbose
    assert result.stderr.count("forecastr: info: epoch ") == 2
    assert re.search(r"epoch 1/2, step \d+/\d+: train .* windows/s; at most \d+ s left",
                     result.stderr)
    table = cli(["info", "sales.fcst"])
    assert table.exit_code == 0 and "many-to-one" in table.stdout and "month" in table.stdout
    quiet = cli(["fit", gz, *TINY_FLAGS, "--quiet", "-o", "q.fcst"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and (tmp_path / "q.fcst").exists()


def test_the_time_left_is_the_pace_so_far_times_the_steps_left():
    from forecastr.cli.ui import time_left

    assert time_left({"seconds": 10.0, "step": 20, "steps": 1000}) == "at most 8 min 10 s left"
    assert time_left({"seconds": 0.5, "step": 5, "steps": 10}) == "at most 0 s left"
    assert time_left({"seconds": 3.0, "step": 10, "steps": 10}) == "no steps left"


def test_fit_from_stdin_needs_an_output(cli, tmp_path):
    text = (SAMPLE_DATA / "single.csv").read_text()
    result = cli(["fit", "-", *TINY_FLAGS], input=text)
    assert result.exit_code == 2 and "needs -o/--output" in result.stderr
    output = tmp_path / "stdin.fcst"
    assert cli(["fit", "-", "-o", output, *TINY_FLAGS], input=text).exit_code == 0
    assert output.exists()


def test_print_config_round_trips_through_config(cli, tmp_path):
    printed = cli(["fit", "--print-config", "--cell", "lstm", "--target", "a,b", "--calendar"])
    assert printed.exit_code == 0 and printed.stderr == ""
    path = tmp_path / "fit.yaml"
    path.write_text(printed.stdout)
    again = cli(["fit", "--print-config", "--config", path])
    assert again.stdout == printed.stdout
    assert "cell: lstm" in printed.stdout and "- a\n- b\n" in printed.stdout


def test_fit_problems_fail_fast_with_status_2(cli, tmp_path, monkeypatch):
    import torch

    data = SAMPLE_DATA / "single.csv"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # whatever this machine has
    cuda = cli(["fit", data, "--device", "cuda", "-o", tmp_path / "m.fcst", *TINY_FLAGS])
    assert cuda.exit_code == 2 and "torch sees no CUDA GPU" in cuda.stderr
    folder = cli(["fit", data, "-o", tmp_path / "missing" / "m.fcst", *TINY_FLAGS])
    assert folder.exit_code == 2 and "does not exist" in folder.stderr
    assert cli(["fit"]).exit_code == 2
    assert cli(["fit", data, "--dropout", "1.5"]).stderr == (
        "forecastr: error: --dropout must be in [0, 1), got 1.5\n")


def test_info_refuses_a_file_that_is_not_a_model(cli, tmp_path):
    result = cli(["info", SAMPLE_DATA / "single.csv"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "not a forecastr model file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("name, calendar, highway, names", [
    ("hourly.csv", True, False, ["hour", "weekday"]), ("single.csv", False, True, [])])
def test_calendar_and_highway_follow_the_frequency_unless_given(cli, tmp_path, name, calendar,
                                                                 highway, names):
    output = tmp_path / "m.fcst"
    flags = ["--target", "demand"] if name == "hourly.csv" else []
    assert cli(["fit", SAMPLE_DATA / name, "-o", output, *TINY_FLAGS, *flags]).exit_code == 0
    report = json.loads(cli(["info", output, "--json"]).stdout)
    assert (report["config"]["calendar"], report["config"]["highway"]) == (calendar, highway)
    assert report["data"]["calendar"] == names
    forced = ["--no-calendar", "--highway"] if calendar else ["--calendar", "--no-highway"]
    assert cli(["fit", SAMPLE_DATA / name, "-o", output, *TINY_FLAGS, *flags,
                *forced]).exit_code == 0
    report = json.loads(cli(["info", output, "--json"]).stdout)
    assert (report["config"]["calendar"], report["config"]["highway"]) == (not calendar,
                                                                             not highway)


def test_counts_in_the_summary_are_singular_for_one():
    from forecastr.cli.ui import counted
    assert [counted(1, "epoch"), counted(2, "epoch"), counted(1000, "step")] == [
        "1 epoch", "2 epochs", "1,000 steps"]


def test_the_progress_bar_counts_steps_once_it_knows_them(capsys):
    from forecastr.cli.ui import training_progress
    with training_progress(True, False):
        pass  # before the first epoch ends, the bound is unknown
    assert "first epoch" in capsys.readouterr().err
    with training_progress(True, False) as advance:
        advance({"epoch": 1, "epochs": 100, "step": 16, "steps": 1000, "train_loss": 0.5,
                 "val_loss": 0.4, "best_epoch": 1, "best_loss": 0.4, "lr": 1e-3,
                 "windows_per_second": 5000.0, "seconds": 1.0})
    shown = capsys.readouterr().err
    assert "step 16/1,000" in shown and "None" not in shown
    with training_progress(True, False, fits=3) as advance:  # evaluate --refit
        pass
    assert "refit 1/3, first epoch" in capsys.readouterr().err
    with training_progress(True, False, fits=3) as advance:
        advance({"epoch": 1, "epochs": 100, "step": 16, "steps": 1000, "train_loss": 0.5,
                 "val_loss": 0.4, "best_epoch": 1, "best_loss": 0.4, "lr": 1e-3,
                 "windows_per_second": 5000.0, "seconds": 1.0, "fit": 2, "fits": 3})
    assert "refit 2/3, step 16/1," in capsys.readouterr().err  # cut to 80 columns here


def test_fit_says_why_training_stopped_and_info_shows_the_ensemble(cli, tmp_path):
    model = tmp_path / "m.fcst"
    result = cli(["fit", SAMPLE_DATA / "single.csv", "-o", model, "--hidden", "4",
                  "--ensemble", "2", "--max-steps", "3"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("forecastr: trained ensemble of 2 gru many-to-one (")
    assert "for 1 epoch (3 steps) in " in result.stderr
    assert ", stopped: reached --max-steps 3; best validation loss " in result.stderr
    architecture = json.loads(cli(["info", model, "--json"]).stdout)["architecture"]
    assert (architecture["ensemble"], architecture["baseline"]) == (2, "seasonal-naive")
    forecast = cli(["predict", model, SAMPLE_DATA / "single.csv"])
    assert forecast.exit_code == 0 and len(forecast.stdout.splitlines()) == 1 + 18


def test_tables_and_errors_show_data_literally(cli, tmp_path, monkeypatch):
    ids = ["[/bold]", "[link=x]click[/link]", "\x1b[31mred", "[bold]x"]
    rows = [f'"{i}",2001-{m:02d}-01,{m}' for i in ids for m in range(1, 13)]
    monkeypatch.chdir(tmp_path)  # a short relative path: a table cuts long ones short
    folder = Path("[data]")
    folder.mkdir()
    data = folder / "ids[1].csv"
    data.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    shown = cli(["inspect", data, "--window", "4", "--horizon", "2"])
    assert shown.exit_code == 0, shown.stderr
    for text in ("[/bold]", "[link=x]click[/link]", "\\x1b[31mred", "[bold]x", "[dat"):
        assert text in shown.stdout
    assert "\x1b" not in shown.stdout
    model = tmp_path / "m.fcst"
    assert cli(["fit", data, "-o", model, "--window", "4", "--horizon", "2", "--max-steps",
                "2", "--val-windows", "1"]).exit_code == 0
    scored = cli(["evaluate", model, data, "--folds", "1"])
    assert scored.exit_code == 0 and f"{data}:" in scored.stdout
    missing = cli(["inspect", tmp_path / "no\x1b[2Jsuch.csv"])
    assert missing.exit_code == 2 and "\x1b" not in missing.stderr
    assert "no\\x1b[2Jsuch.csv: no such file" in missing.stderr


def test_evaluate_says_why_a_constant_series_has_no_mase(cli, tmp_path):
    times = pd.date_range("2001-01-01", periods=60, freq="MS")
    flat = pd.DataFrame({"unique_id": "flat", "ds": times, "y": 5.0})
    wave = pd.DataFrame({"unique_id": "wave", "ds": times, "y": 10 + np.sin(np.arange(60))})
    both, alone, model = tmp_path / "both.csv", tmp_path / "flat.csv", tmp_path / "m.fcst"
    pd.concat([flat, wave]).to_csv(both, index=False)
    flat.to_csv(alone, index=False)
    assert cli(["fit", both, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "12", "--horizon", "6", "--val-windows", "1"]).exit_code == 0
    report = json.loads(cli(["evaluate", model, both, "--json"]).stdout)
    assert report["mase_skipped_series"] == ["flat"]
    assert np.isfinite(report["overall"]["model"]["mase"])  # the wave's alone
    table = cli(["evaluate", model, alone]).stdout
    assert re.search(r"│ MASE +│ +- │", table)  # undefined, and now said why
    assert " ".join(table.split()).endswith(
        "MASE left out 1 series ('flat') whose history never changed: seasonal naive's "
        "in-sample error is 0, so their MASE is undefined (shown as -)")


def test_the_package_exports_the_library_the_readme_shows():
    import forecastr
    from forecastr import api, errors

    for name in forecastr.__all__:
        assert getattr(forecastr, name) is not None, name
    assert forecastr.fit is api.fit and forecastr.evaluate is api.evaluate
    assert {"ModelFileError", "DeviceError", "OutputError", "OutOfMemory"} <= set(
        forecastr.__all__)
    assert forecastr.OutOfMemory is errors.OutOfMemory
    with pytest.raises(TypeError):  # the data, the config and the model file; then keywords
        api.fit("data.csv", None, "m.fcst", print)


def test_an_interrupt_while_the_cli_is_still_importing_is_quiet():
    # SIGINT arrives while `forecastr` imports click (the first tenths of a second of a run
    # on a loaded machine): no traceback from the middle of an import, exit 130
    # (SIGINT reset first: a suite started in the background inherits it ignored, which
    # forecastr rightly leaves ignored)
    code = ("import builtins, os, signal, sys\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "real = builtins.__import__\n"
            "def hook(name, *args, **kwargs):\n"
            "    if name == 'click':\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "    return real(name, *args, **kwargs)\n"
            "builtins.__import__ = hook\n"
            "sys.argv = ['forecastr', 'inspect', 'data.csv']\n"
            "from forecastr.__main__ import main\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout) == (130, "")
    assert result.stderr == "forecastr: interrupted\n"


def test_info_shows_the_configuration_and_what_the_model_was_trained_on(cli, tmp_path):
    model = tmp_path / "m.fcst"
    assert cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--hidden", "4", "--max-steps",
                "2", "--window", "12", "--horizon", "6"]).exit_code == 0
    shown = " ".join(cli(["info", model]).stdout.split())
    assert f"trained_on │ {SAMPLE_DATA / 'long.csv'}" in shown
    assert "last_time │ 2019-09-01 00:00:00" in shown
    assert "configuration" in shown and "│ val_windows │ 12 │" in shown
    report = json.loads(cli(["info", model, "--json"]).stdout)
    assert report["data"]["trained_on"] == str(SAMPLE_DATA / "long.csv")


def test_evaluate_says_when_its_scores_are_in_sample(cli, tmp_path):
    frame = pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=60, freq="MS"),
                          "y": 10 + np.sin(np.arange(60))})
    early, full, model = tmp_path / "early.csv", tmp_path / "full.csv", tmp_path / "m.fcst"
    frame.head(48).to_csv(early, index=False)
    frame.to_csv(full, index=False)
    assert cli(["fit", early, "-o", model, "--hidden", "4", "--max-steps", "2", "--window",
                "12", "--horizon", "6", "--val-windows", "1"]).exit_code == 0
    # origins at rows 54, 48 and 42: only the last starts inside the 48 rows trained on
    report = json.loads(cli(["evaluate", model, full, "--json", "--folds", "3"]).stdout)
    assert report["in_sample_forecasts"] == 1 and report["forecasts"] == 3
    shown = " ".join(cli(["evaluate", model, full, "--folds", "3"]).stdout.split())
    assert "1 of 3 forecasts start inside the data the model was trained on: their scores " \
           "are in-sample and flatter it" in shown
    later = " ".join(cli(["evaluate", model, full, "--folds", "2"]).stdout.split())
    assert "in-sample" not in later


def test_evaluate_refit_fits_on_the_history_before_each_origin(cli, tmp_path):
    frame = pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=60, freq="MS"),
                          "y": 10 + np.sin(np.arange(60)) + 0.05 * np.arange(60)})
    full, model = tmp_path / "full.csv", tmp_path / "m.fcst"
    frame.to_csv(full, index=False)
    options = ["--hidden", "4", "--max-steps", "20", "--window", "12", "--horizon", "6",
               "--val-windows", "2"]
    assert cli(["fit", full, "-o", model, *options]).exit_code == 0
    refitted = json.loads(cli(["evaluate", model, full, "--json", "--folds", "2",
                               "--refit"]).stdout)
    assert refitted["refit"] and refitted["in_sample_forecasts"] == 0
    # each origin's model is the one fit makes from the rows before that origin, so its
    # scores are those of such a model evaluated at that origin alone
    for fold, rows in enumerate([54, 48]):
        early, early_model = tmp_path / f"early{rows}.csv", tmp_path / f"early{rows}.fcst"
        frame.head(rows).to_csv(early, index=False)
        assert cli(["fit", early, "-o", early_model, *options]).exit_code == 0
        scored = json.loads(cli(["evaluate", early_model, _written(tmp_path, frame.head(
            rows + 6)), "--json", "--folds", "1"]).stdout)
        assert refitted["per_fold"][fold]["model"] == scored["overall"]["model"]
    plain = json.loads(cli(["evaluate", model, full, "--json", "--folds", "2"]).stdout)
    assert plain["in_sample_forecasts"] == 2 and not plain["refit"]
    assert plain["overall"]["model"] != refitted["overall"]["model"]
    shown = " ".join(cli(["evaluate", model, full, "--folds", "1", "--refit"]).stdout.split())
    assert "refitted on the history before each origin" in shown and "in-sample" not in shown
    # each refit's epochs reach the caller, numbered, as a progress display needs them
    epochs = []
    api.evaluate(model, full, folds=2, refit=True, on_epoch=epochs.append)
    assert {(e["fit"], e["fits"]) for e in epochs} == {(1, 2), (2, 2)}
    assert all(e["step"] <= e["steps"] == 20 for e in epochs)
    verbose = cli(["evaluate", model, full, "--folds", "2", "--refit", "--verbose"])
    assert "refit 2/2, epoch 1/" in verbose.stderr


def _written(folder, frame):
    path = folder / f"upto{len(frame)}.csv"
    frame.to_csv(path, index=False)
    return path
