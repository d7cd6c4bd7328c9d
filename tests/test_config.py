"""FitConfig: defaults < YAML < flags, one-line errors naming the key or flag, and the
sync between the dataclass and the command-line options."""

from __future__ import annotations

import dataclasses
import json

import pytest

from forecastr.config import FitConfig, flag_name
from forecastr.config_values import from_mapping, load_yaml, merge, to_yaml
from forecastr.errors import ConfigError
from tests.conftest import SAMPLE_DATA


def test_defaults_are_valid_and_round_trip_through_yaml(tmp_path):
    cfg = FitConfig(targets=("a", "b"), window=48, fill="ffill")
    path = tmp_path / "fit.yaml"
    path.write_text(to_yaml(cfg))
    assert merge(FitConfig(), load_yaml(path), {}) == cfg


@pytest.mark.parametrize("changes, message", [
    ({"window": 0}, "--window must be at least 1, got 0"),
    ({"horizon": -3}, "--horizon must be at least 1, got -3"),
    ({"stride": 0}, "--stride must be at least 1"),
    ({"val_windows": -1}, "--val-windows must be 0 or more"),
    ({"fill": "cubic"}, "--fill must be one of linear, ffill, zero, error; got 'cubic'"),
    ({"targets": ("a",), "features": ("a",)}, "'a' is given both as --target and as --features"),
    # a model of a column read twice was one that predict and info then refused
    ({"targets": ("s0", "s0")}, "--target names column 's0' twice: s0,s0"),
    ({"static_features": ("store", "store")},
     "--static-features names column 'store' twice: store,store"),
    ({"features": ("p", "q", "p")}, "--features names column 'p' twice: p,q,p"),
    ({"hidden": 0}, "--hidden must be at least 1, got 0"),
    ({"batch_size": 0}, "--batch-size must be at least 1"),
    ({"dropout": 1.5}, "--dropout must be in [0, 1), got 1.5"),
    ({"dropout": float("nan")}, "--dropout must be a finite number"),
    ({"lr": 0.0}, "--lr must be above 0, got 0.0"),
    ({"clip": -1.0}, "--clip must be 0 or more"),
    ({"teacher_forcing": 2.0}, "--teacher-forcing must be in [0, 1], got 2.0"),
    ({"cell": "transformer"}, "--cell must be one of rnn, lstm, gru; got 'transformer'"),
    ({"device": "tpu"}, "--device must be auto, cpu, cuda or cuda:N; got 'tpu'"),
])
def test_validation_names_the_flag(changes, message):
    with pytest.raises(ConfigError) as err:
        FitConfig(**changes)
    assert message in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("hiden: 3\n", "fit.yaml: unknown key 'hiden'"),
    ("windw: 3\n", "unknown key 'windw' (did you mean 'window'?)"),
    ("window: twelve\n", "fit.yaml: 'window' must be an integer, got 'twelve'"),
    ("window: true\n", "'window' must be an integer, got True"),
    ("fill: cubic\n", "'fill' must be one of linear, ffill, zero, error; got 'cubic'"),
    ("utc: 1\n", "'utc' must be true or false"),
    ("targets: 3\n", "'targets' must be a list of column names"),
    ("- window\n", "must be a mapping of option: value, got list"),
    ("window: [1\n", "YAML syntax error at line 2"),
])
def test_yaml_errors_are_one_line_and_name_the_key(tmp_path, text, message):
    path = tmp_path / "fit.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_yaml_accepts_lists_strings_and_null():
    typed = from_mapping({"targets": ["a", "b,c"], "features": "x", "freq": None}, "f.yaml")
    assert typed == {"targets": ("a", "b", "c"), "features": ("x",), "freq": None}


def test_empty_yaml_means_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing set\n")
    assert load_yaml(path) == {}


def test_precedence_defaults_then_yaml_then_flags(tmp_path, cli):
    path = tmp_path / "fit.yaml"
    path.write_text("window: 6\nhorizon: 3\n")
    data = SAMPLE_DATA / "single.csv"
    from_yaml = json.loads(cli(["inspect", data, "--json", "--config", path]).stdout)
    assert (from_yaml["windows"]["window"], from_yaml["windows"]["horizon"]) == (6, 3)
    flagged = json.loads(cli(["inspect", data, "--json", "--config", path,
                              "--window", "8"]).stdout)
    assert (flagged["windows"]["window"], flagged["windows"]["horizon"]) == (8, 3)
    plain = json.loads(cli(["inspect", data, "--json"]).stdout)
    assert plain["windows"]["window"] == 36  # suggested for monthly data


def test_bad_config_file_through_the_cli(tmp_path, cli):
    path = tmp_path / "fit.yaml"
    path.write_text("windw: 3\n")
    result = cli(["inspect", SAMPLE_DATA / "single.csv", "--config", path])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"forecastr: error: {path}: unknown key 'windw' "
                             f"(did you mean 'window'?)\n")
    missing = cli(["inspect", SAMPLE_DATA / "single.csv", "--config", tmp_path / "nope.yaml"])
    assert missing.exit_code == 2 and "cannot read config file" in missing.stderr


def test_every_field_has_help_a_group_and_a_flag(cli):
    help_text = cli(["inspect", "--help"]).stdout
    for f in dataclasses.fields(FitConfig):
        assert f.metadata["help"].strip(), f.name
        assert f.metadata["group"] in {"data", "windows", "model", "training", "system"}
        if f.metadata["group"] in {"data", "windows"}:
            assert f"--{flag_name(f)}" in help_text, f.name


def test_a_choice_left_to_the_data_takes_null_or_one_of_its_values():
    # --baseline is settled by frequency unless given (calendar.settle)
    assert from_mapping({"baseline": None}, "f.yaml") == {"baseline": None}
    assert from_mapping({"baseline": "theta"}, "f.yaml") == {"baseline": "theta"}
    with pytest.raises(ConfigError, match="f.yaml: 'baseline' must be one of seasonal-naive, "
                                          "theta, none; got 'naive'"):
        from_mapping({"baseline": "naive"}, "f.yaml")
    assert FitConfig().baseline is None and FitConfig(baseline="none").baseline == "none"
