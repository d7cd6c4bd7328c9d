"""The README, CHANGELOG and CI script stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from forecastr.cli.commands import cli as group
from forecastr.config import FitConfig
from forecastr.config_values import from_mapping, merge

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_every_command_has_help_and_a_readme_entry():
    for name, command in group.commands.items():
        assert command.help and command.help.strip(), name
        assert f"forecastr {name}" in README, name


def test_readme_yaml_examples_are_a_valid_config_and_a_valid_search_space(tmp_path):
    space_example, config_example = blocks("yaml")  # in the README's order
    cfg = merge(FitConfig(), from_mapping(yaml.safe_load(config_example), "README"), {})
    assert cfg.targets == ("demand",) and cfg.window == 48
    from forecastr.tuning.space import Choice, Span, load_space

    path = tmp_path / "space.yaml"
    path.write_text(space_example)
    space = load_space(path)
    assert space["cell"] == Choice(("gru", "lstm")) and space["lr"] == Span(3e-4, 3e-3, True)


def test_readme_opens_with_two_setup_commands_and_ci_runs_the_test_one():
    setup, tests = [block.strip() for block in blocks("sh")[:2]]
    assert "torch==2.13.0" in setup and "forecastr fit sample_data/" in setup
    assert tests.endswith("python -m pytest")
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci_script and "set -euo pipefail" in ci_script


def test_readme_console_example_matches_real_output(cli, monkeypatch):
    console = blocks("console")[0].splitlines()
    command = console[0].removeprefix("$ ").split()
    assert command[:2] == ["forecastr", "inspect"]
    expected = console[1:console.index("...")]
    monkeypatch.chdir(ROOT)
    result = cli(command[1:])
    seen = [line.rstrip() for line in (result.stderr + result.stdout).splitlines()]
    assert expected and all(line in seen for line in expected), (expected, seen)


def test_changelog_has_an_unreleased_section():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog and "Keep a Changelog" in changelog


def test_the_python_floor_is_what_the_code_needs():
    import ast
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"  # datetime.UTC; CI runs on 3.11 itself
    for module in sorted((ROOT / "forecastr").glob("*.py")):
        ast.parse(module.read_text(encoding="utf-8"), str(module), feature_version=(3, 11))


def test_the_readme_layer_map_names_every_module():
    from tests.test_layers import LAYERS

    development = README[README.index("## Development"):]
    for module in LAYERS:
        assert f"`{module.replace('.', '/')}.py`" in development, module
