"""Click options built from FitConfig's fields (type, default and help in one place), the
config a command's flags and --config file make together, and the options every command
shares."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from forecastr.config import FitConfig, base_type, choices, field_types, flag_name
from forecastr.config_values import coerce, load_yaml, merge


def field_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One option per named FitConfig field, built from its type, default and help."""
    types = field_types()
    chosen = [f for f in dataclasses.fields(FitConfig) if f.name in names]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for f in reversed(chosen):
            click.option(*_declaration(f, types[f.name]), **_settings(f, types[f.name]))(command)
        return command

    return decorate


def config_options(*groups: str, leaving: tuple[str, ...] = ()
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with one option per FitConfig field of the given groups (but those
    it is `leaving` out), and --config for a YAML file of them."""
    fields_option = field_options(*[f.name for f in dataclasses.fields(FitConfig)
                                    if f.metadata["group"] in groups
                                    and f.name not in leaving])

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        return click.option("--config", "config_path", type=click.Path(dir_okay=False),
                            help="YAML file of options; flags given here override it.")(
            fields_option(command))

    return decorate


def _declaration(f: dataclasses.Field, annotation: Any) -> list[str]:
    flag = flag_name(f)
    if base_type(annotation) is bool:
        return [f"--{flag}/--no-{flag}", f.name]
    return [f"--{flag}", f.name]


def _settings(f: dataclasses.Field, annotation: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"help": f.metadata["help"], "default": f.default,
                                "show_default": f.default not in (None, ())}
    allowed = choices(annotation)
    base = base_type(annotation)
    if allowed:
        settings["type"] = click.Choice(allowed)
    elif base in (int, float, str):
        settings["type"] = base
    elif base is tuple:
        settings["type"], settings["multiple"] = str, True
    return settings


def build_config(ctx: click.Context, params: dict[str, Any]) -> FitConfig:
    """FitConfig defaults < the --config YAML file < flags actually given."""
    config_path = params.pop("config_path", None)
    from_yaml = load_yaml(config_path) if config_path else {}
    given = {}
    for f in dataclasses.fields(FitConfig):
        if f.name in params and ctx.get_parameter_source(f.name) in (
                ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            given[f.name] = coerce(f.name, params[f.name], f"--{flag_name(f)}")
    return merge(FitConfig(), from_yaml, given)


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every command shares: verbosity and debugging."""
    command = click.option("--debug", is_flag=True,
                           help="Show a traceback when something fails.")(command)
    command = click.option("-v", "--verbose", is_flag=True, help="Log more detail on stderr.")(
        command)
    return click.option("-q", "--quiet", is_flag=True, help="Log only errors on stderr.")(
        command)
