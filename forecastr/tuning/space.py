"""The search space of `forecastr tune`: which fit options a search varies and over which
values, as a YAML file names them (a list: one of these values; low and high: a range), the
default space, and each trial's options turned into a checked FitConfig."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecastr.config import FitConfig, base_type, field_types
from forecastr.config_values import check_key, coerce, read_yaml
from forecastr.errors import ConfigError

# options a search must not vary: what is forecast, how the run is scored and reproduced,
# and where it runs (a search compares trials on the same data, seed and machine)
FIXED = ("horizon", "freq", "targets", "id_col", "time_col", "features",
         "future_features", "static_features", "val_windows", "seed", "device", "precision",
         "threads", "quantiles", "intervals", "interval_method", "utc", "dayfirst",
         "max_time")


@dataclass(frozen=True)
class Choice:
    """One of these values."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Span:
    """A number between low and high (both included): an integer where the field is one, on
    a log scale where `log` (learning rates)."""

    low: float
    high: float
    log: bool = False


Space = dict[str, Choice | Span]


def default_space(cfg: FitConfig) -> Space:
    """The options that matter most, around `cfg` (settled for the data: its window is the
    frequency's default): cell, window (half, once and twice it), width, depth, dropout,
    learning rate, loss and the starting point."""
    window = cfg.window
    return {"cell": Choice(("gru", "lstm", "rnn")),
            "window": Choice(tuple(sorted({max(2, window // 2), window, 2 * window}))),
            "hidden": Choice((32, 64, 128)), "layers": Choice((1, 2)),
            "dropout": Span(0.0, 0.3), "lr": Span(3e-4, 3e-3, log=True),
            "loss": Choice(("huber", "mae", "mse")),
            "baseline": Choice(("seasonal-naive", "theta", "none"))}


def load_space(path: str | Path) -> Space:
    """A space from a YAML file of `option: [values]` or `option: {low: L, high: H, log:
    true}`; every failure is a one-line ConfigError naming the file and the key."""
    raw = read_yaml(path, "--space")
    where = str(path)
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: must be a mapping of option: values (a list, or low and "
                          f"high), e.g. 'hidden: [32, 64]'")
    for key in raw:
        check_key(key, where)
    return {str(key): _dimension(str(key), value, where) for key, value in raw.items()}


def _dimension(key: str, value: Any, where: str) -> Choice | Span:
    if key in FIXED:
        raise ConfigError(f"{where}: {key!r} cannot be searched (every trial keeps the "
                          f"same {key.replace('_', ' ')}); set it with its fit option instead")
    kind = base_type(field_types()[key])
    if isinstance(value, list) and value:
        values = tuple(coerce(key, item, f"{where}: {key}") for item in value)
        for item in values:
            _check(key, item, where)
        return Choice(tuple(dict.fromkeys(values)))
    if isinstance(value, dict) and {"low", "high"} <= set(value) <= {"low", "high", "log"}:
        if kind not in (int, float):
            raise ConfigError(f"{where}: {key!r} is not a number; give a list of its values")
        low, high = (coerce(key, value[end], f"{where}: {key}") for end in ("low", "high"))
        log = value.get("log", False)
        if not isinstance(log, bool) or low >= high or (log and low <= 0):
            raise ConfigError(f"{where}: {key!r} needs low < high (both above 0 for log: "
                              f"true), and log true or false; got {value!r}")
        _check(key, low, where)
        _check(key, high, where)
        return Span(low, high, log)
    raise ConfigError(f"{where}: {key!r} must be a list of values or a mapping with low and "
                      f"high (and log); got {value!r}")


def _check(key: str, value: Any, where: str) -> None:
    try:
        FitConfig(**{key: value})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {key}: {exc}") from None


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """A trial's options, drawn by Optuna's `trial` from the space."""
    types = field_types()
    drawn = {}
    for key, dimension in space.items():
        if isinstance(dimension, Choice):
            drawn[key] = trial.suggest_categorical(key, list(dimension.values))
        elif base_type(types[key]) is int:
            drawn[key] = trial.suggest_int(key, int(dimension.low), int(dimension.high),
                                           log=dimension.log)
        else:
            drawn[key] = trial.suggest_float(key, dimension.low, dimension.high,
                                             log=dimension.log)
    return drawn


def starting_options(cfg: FitConfig, space: Space) -> dict[str, Any]:
    """The options of `cfg` (the defaults) that lie in the space: the first trial's, so that
    a search always scores the defaults."""
    inside = {}
    for key, dimension in space.items():
        value = getattr(cfg, key)
        if isinstance(dimension, Choice) and value in dimension.values:
            inside[key] = value
        elif isinstance(dimension, Span) and value is not None \
                and dimension.low <= value <= dimension.high:
            inside[key] = value
    return inside


def trial_config(base: FitConfig, options: dict[str, Any]) -> FitConfig:
    return dataclasses.replace(base, **options)


def describe(space: Space) -> dict[str, Any]:
    """The space as JSON-able values (the table's header and a resumed search's check)."""
    return {key: list(d.values) if isinstance(d, Choice) else
            {"low": d.low, "high": d.high, "log": d.log} for key, d in space.items()}
