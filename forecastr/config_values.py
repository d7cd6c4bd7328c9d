"""FitConfig values from outside: a YAML file, a model file's stored mapping, and flags, each
checked against the field's type (errors name the key or flag) and merged defaults < file <
flags; and the config written back as YAML that reads to an equal one."""

from __future__ import annotations

import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any

from forecastr.config import FitConfig, base_type, choices, field_types
from forecastr.errors import ConfigError


def coerce(name: str, value: Any, where: str) -> Any:
    """Check one raw value (from YAML or a flag) against the field's type; return it typed."""
    annotation = field_types()[name]
    allowed = choices(annotation)
    if value is None and type(None) in typing.get_args(annotation):
        return None
    if allowed is not None:
        if str(value) in allowed and not isinstance(value, bool):  # YAML reads `32` as int
            return str(value)
        raise ConfigError(f"{where}: {name!r} must be one of {', '.join(allowed)}; got {value!r}")
    base = base_type(annotation)
    if base is tuple and typing.get_args(annotation)[0] is float:
        return _numbers(name, value, where)
    if base is tuple:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, (list, tuple)) and all(isinstance(v, str) for v in items):
            return tuple(part.strip() for v in items for part in v.split(",") if part.strip())
        raise ConfigError(f"{where}: {name!r} must be a list of column names, got {value!r}")
    if base is bool and isinstance(value, bool):
        return value
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base is str and isinstance(value, str):
        return value
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    raise ConfigError(f"{where}: {name!r} must be {expected.get(base, base)}, got {value!r}")


def _numbers(name: str, value: Any, where: str) -> tuple[float, ...]:
    """A list of numbers from YAML, or comma-separated text from flags."""
    items = [value] if isinstance(value, (str, int, float)) else value
    parts = []
    if isinstance(items, (list, tuple)):
        for item in items:
            parts += [p.strip() for p in item.split(",")] if isinstance(item, str) else [item]
    try:
        if isinstance(items, (list, tuple)) and not any(isinstance(p, bool) for p in parts):
            return tuple(float(p) for p in parts if p != "")
    except ValueError:
        pass
    raise ConfigError(f"{where}: {name!r} must be a list of numbers such as 0.1,0.9; "
                      f"got {value!r}")


def from_mapping(raw: Any, where: str) -> dict[str, Any]:
    """Validate a mapping of config keys (YAML contents) and return it with typed values."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping of option: value, "
                          f"got {type(raw).__name__}")
    typed = {}
    for key, value in raw.items():
        check_key(key, where)
        typed[key] = coerce(key, value, where)
    return typed


def check_key(key: Any, where: str) -> None:
    """Refuse a key that is not one of fit's options, suggesting the nearest."""
    names = [f.name for f in dataclasses.fields(FitConfig)]
    if key not in names:
        close = difflib.get_close_matches(str(key), names, n=1)
        hint = (f" (did you mean {close[0]!r}?)" if close else
                "; the keys are fit's options, listed by forecastr fit --print-config")
        raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def read_yaml(path: str | Path, option: str = "--config") -> Any:
    """A YAML file's contents as read; every failure is a one-line ConfigError that names
    the file (and the `option` that gave it, where the path is wrong)."""
    import yaml  # lazily: `forecastr --help` should not pay for it

    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read config file: not UTF-8 text; save it as "
                          f"UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc}); check "
                          f"the path of {option}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: YAML syntax error{at}: {problem}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into typed values; every failure is a one-line ConfigError."""
    typed = from_mapping(read_yaml(path), str(path))
    try:  # out-of-range values here, so that the message names this file
        FitConfig(**typed)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return typed


def merge(base: FitConfig, yaml_values: dict[str, Any], flag_values: dict[str, Any]) -> FitConfig:
    """Defaults < YAML file < command-line flags; the result is validated."""
    return dataclasses.replace(base, **{**yaml_values, **flag_values})


def to_yaml(cfg: FitConfig) -> str:
    """The config as YAML that `--config` reads back to an equal FitConfig."""
    import yaml

    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
    return yaml.safe_dump(plain, sort_keys=False)
