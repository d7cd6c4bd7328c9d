"""What a model file may hold: the type and range of every stored value, and the layout,
shape and finiteness of every tensor against the stored configuration. All of it is checked
before a network is built, so that refusing a crafted file costs no more than reading it.

Every check raises ValueError with a short phrase naming the entry; artifact.load turns it
into a one-line "corrupt model file" error.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from typing import TYPE_CHECKING, Any

import torch

from forecastr.config import MAX_STEPS, FitConfig, choices
from forecastr.data.calendar import NAMES
from forecastr.data.panel import Schema
from forecastr.modelfile.container import shown
from forecastr.network.model import Dimensions, Ensemble
from forecastr.network.outputs import quantile_levels
from forecastr.network.static import StaticStats, embedding_levels

if TYPE_CHECKING:
    from forecastr.modelfile.contents import Artifact

# the share of a window's level below which its spread is not scaled: 0.1 by default, 0
# in files of format 2 and older; above 1 it would no longer be a floor but the scale
FLOOR_RANGE = (0.0, 1.0)


def table(cls: type, raw: Any, where: str) -> dict[str, Any]:
    """The fields of dataclass `cls` from a stored mapping, each checked against its type."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is {shown(raw)}, not a table")
    hints = typing.get_type_hints(cls)
    complete(raw, cls, where)
    return {f.name: value(hints[f.name], raw[f.name], f"{where}.{f.name}")
            for f in dataclasses.fields(cls)}


def unknown_entry(payload: dict[str, Any], top_level: set[str]) -> str | None:
    """The first entry of a payload (upgraded to the current format) that this forecastr
    does not know, named like 'config.x'; None when there is none."""
    known = {"config": _names(FitConfig), "schema": _names(Schema),
             "dimensions": _names(Dimensions), "scaling": {"kind", "loc", "scale", "floor"},
             "series": {"ids", "last_times", "lengths"}, "conformal": {"widths", "pooled"},
             "static": _names(StaticStats)}
    for key, value in payload.items():
        if key not in top_level:
            return repr(key)
        if key in known and isinstance(value, dict):
            extra = [name for name in value if name not in known[key]]
            if extra:
                return f"{key}.{extra[0]}"
    return None


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def complete(raw: dict[str, Any], cls: type, where: str) -> None:
    """That a stored table has every field of `cls`: the upgrades give an older file the
    fields its format lacked, so a missing one is damage, not a default."""
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            raise ValueError(f"{where} has no {f.name!r}")


def value(annotation: Any, raw: Any, where: str) -> Any:
    """`raw` as a value of `annotation`: bool, int, float (finite), str, a Literal, a tuple of
    one of them (stored as a list), or any of them `| None`."""
    args = typing.get_args(annotation)
    if raw is None and type(None) in args:
        return None
    allowed = choices(annotation)
    if allowed is not None:
        if isinstance(raw, str) and raw in allowed:
            return raw
        raise ValueError(f"{where} is {shown(raw)}, not one of {', '.join(allowed)}")
    if typing.get_origin(annotation) is tuple:
        item = args[0]
        if not isinstance(raw, (list, tuple)):
            raise ValueError(f"{where} is {shown(raw)}, not a list")
        if item is str and not all(isinstance(entry, str) for entry in raw):
            raise ValueError(f"{where} is not a list of text values")
        return tuple(value(item, entry, f"{where}[{i}]") for i, entry in enumerate(raw))
    base = next(a for a in (*args, annotation) if a in (bool, int, float, str))
    if base is float and isinstance(raw, int) and not isinstance(raw, bool):
        raw = float(raw)
    # bool is an int to Python, but never a count here
    if type(raw) is base and (base is not float or math.isfinite(raw)):
        return raw
    wanted = {bool: "true or false", int: "an integer", float: "a finite number", str: "text"}
    raise ValueError(f"{where} is {shown(raw)}, not {wanted[base]}")


def static_stats(raw: Any) -> StaticStats:
    """The static entry: the levels of each categorical feature, the mean and spread of each
    numeric one."""
    raw = mapping(raw, "static")
    complete(raw, StaticStats, "static")
    levels = {name: list(value(tuple[str, ...], known, f"static.levels.{name}"))
              for name, known in mapping(raw["levels"], "static.levels").items()}
    numeric = {name: list(value(tuple[float, ...], pair, f"static.numeric.{name}"))
               for name, pair in mapping(raw["numeric"], "static.numeric").items()}
    for name, pair in numeric.items():
        # a spread below float64's smallest normal number makes every input infinite
        if len(pair) != 2 or not all(map(math.isfinite, pair)) or \
                pair[1] < sys.float_info.min:
            raise ValueError(f"static.numeric.{name} is not a finite mean and a spread of at "
                             f"least {sys.float_info.min:.3g}")
    for name, known in levels.items():
        if len(set(known)) < len(known):
            raise ValueError(f"static.levels.{name} repeats a level")
    return StaticStats(levels, numeric)


def mapping(raw: Any, where: str) -> dict[str, Any]:
    """A stored table: a dict whose keys are text."""
    if not isinstance(raw, dict) or not all(isinstance(key, str) for key in raw):
        raise ValueError(f"{where} is {shown(raw)}, not a table")
    return raw


def check(loaded: Artifact) -> None:
    """That the typed contents of a model file make one model; see the module docstring."""
    cfg, schema = loaded.config, loaded.schema
    if cfg.window is None or cfg.horizon is None:
        raise ValueError("config.window and config.horizon are not both set")
    if cfg.baseline is None:
        raise ValueError("config.baseline is not set")
    _check_schema(loaded)
    _check_dimensions(loaded)
    _check_scaling(loaded)
    if (loaded.conformal is not None) != bool(cfg.intervals and
                                              cfg.interval_method == "conformal"):
        raise ValueError("conformal widths do not match config.intervals and "
                         "config.interval_method")
    if loaded.conformal is not None:
        if set(loaded.conformal) != {"widths", "pooled"}:
            raise ValueError("conformal does not hold exactly widths and pooled")
        n_series, levels = len(loaded.series["ids"]), len(cfg.intervals)
        tail = (levels, loaded.horizon, schema.n_targets)
        _shaped(loaded.conformal.get("widths"), (n_series, *tail), "conformal.widths", 0)
        _shaped(loaded.conformal.get("pooled"), tail, "conformal.pooled", 0)
    check_weights(loaded)


def _check_schema(loaded: Artifact) -> None:
    import pandas as pd

    schema = loaded.schema
    inputs = schema.features + schema.future_features
    inputs_last = not inputs or tuple(schema.channels[-len(inputs):]) == inputs
    if schema.n_targets < 1 or not inputs_last:
        raise ValueError("schema.channels do not hold its targets and features")
    if schema.future_features != loaded.config.future_features:
        raise ValueError("schema.future_features differ from config.future_features")
    if schema.static_features != loaded.config.static_features:
        raise ValueError("schema.static_features differ from config.static_features")
    stats = loaded.static
    described = [] if stats is None else [*stats.levels, *stats.numeric]
    if sorted(described) != sorted(schema.static_features):
        raise ValueError("static does not describe schema.static_features")
    if (schema.layout == "long") != (schema.id_col is not None):
        raise ValueError(f"schema.id_col is {shown(schema.id_col)} in a {schema.layout} file")
    if schema.step < 1:
        raise ValueError(f"schema.step is {schema.step:,}, not a positive integer")
    if schema.time_kind == "datetime":
        try:
            pd.tseries.frequencies.to_offset(schema.freq)
        except (ValueError, TypeError):
            raise ValueError(f"schema.freq is {shown(schema.freq)}, not a pandas frequency") \
                from None
    unknown = [name for name in loaded.calendar if name not in NAMES]
    if unknown or len(set(loaded.calendar)) < len(loaded.calendar):
        raise ValueError(f"calendar names an unknown or repeated feature (the features are "
                         f"{', '.join(NAMES)})")


def _check_dimensions(loaded: Artifact) -> None:
    dims, schema = loaded.dimensions, loaded.schema
    levels = quantile_levels(loaded.config)
    stats = loaded.static
    n_ids = len(loaded.series["ids"]) if loaded.config.id_embedding else None
    expected = {"n_targets": schema.n_targets, "n_calendar": 2 * len(loaded.calendar),
                "n_future": len(schema.future_features),
                "static_levels": embedding_levels(stats, n_ids),
                "n_static_numbers": len(stats.numeric) if stats else 0,
                "n_inputs": len(schema.channels) + 2 * len(loaded.calendar) + 1,
                "n_quantiles": len(levels) or 1, "point": levels.index(0.5) if levels else 0}
    for name, wanted in expected.items():
        if getattr(dims, name) != wanted:
            raise ValueError(f"dimensions.{name} is {getattr(dims, name)}, but the schema and "
                             f"configuration make it {wanted}")
    _within(dims.season, 1, MAX_STEPS, "dimensions.season")


def _check_scaling(loaded: Artifact) -> None:
    stats, cfg = loaded.scaling, loaded.config
    if stats.kind != cfg.scaler:
        raise ValueError(f"scaling.kind is {stats.kind!r} but config.scaler is {cfg.scaler!r}")
    low, high = FLOOR_RANGE
    if not low <= stats.floor <= high:
        raise ValueError(f"scaling.floor is {stats.floor}, outside [{low:g}, {high:g}]")
    ids = loaded.series["ids"]
    if len(set(ids)) < len(ids):
        raise ValueError("series.ids names a series twice")
    shape = (len(ids), len(loaded.schema.channels))
    loc = _shaped(stats.loc, shape, "scaling.loc")
    scale = _shaped(stats.scale, shape, "scaling.scale")
    if not (scale > 0).all():
        raise ValueError("scaling.scale holds a value that is not above 0")
    # targets scaled per window (or not at all) keep the identity map per series
    fixed = shape[1] if stats.kind == "none" else \
        loaded.schema.n_targets if stats.kind == "window" else 0
    if (loc[:, :fixed] != 0).any() or (scale[:, :fixed] != 1).any():
        raise ValueError(f"scaling.loc and scale of a {stats.kind} scaler are not 0 and 1")
    lengths = loaded.series.get("lengths")
    for key, items in (("last_times", loaded.series.get("last_times")), ("lengths", lengths)):
        kinds = {type(item) for item in items} if isinstance(items, list) else set()
        if items is not None and (not isinstance(items, list) or len(items) != len(ids)
                                  or len(kinds) > 1 or kinds - {str, int}):
            raise ValueError(f"series.{key} is {shown(items)}, not a list of {len(ids)} "
                             f"times or counts of one kind")


def check_weights(loaded: Artifact) -> None:
    """The stored weights against the network the configuration describes, compared on the
    meta device (shapes without memory), then checked for finite values."""
    cfg, weights = loaded.config, loaded.state_dict
    # each member's recurrent layer has at least four tensors per direction, so the count of
    # stored tensors bounds the size of the network built below
    least = cfg.ensemble * cfg.layers * 4 * (2 if cfg.bidirectional else 1)
    if least > len(weights):
        raise ValueError(f"config asks for {cfg.ensemble} x {cfg.layers} layers, but the file "
                         f"holds {len(weights)} weights")
    try:
        with torch.device("meta"):
            expected = Ensemble(cfg, loaded.dimensions).state_dict()
    except RuntimeError:  # sizes whose product overflows
        raise ValueError(f"config describes a network too large to build (hidden "
                         f"{cfg.hidden:,})") from None
    for key in [*expected, *weights]:
        if key not in weights or key not in expected:
            side = "has no" if key not in weights else "has an unexpected"
            raise ValueError(f"state_dict {side} weight {shown(key)}")
        if weights[key].shape != expected[key].shape:
            raise ValueError(f"weight {key!r} has shape {tuple(weights[key].shape)}, not "
                             f"{tuple(expected[key].shape)}")
    for key, weight in weights.items():
        if not torch.isfinite(weight).all():
            raise ValueError(f"weight {key!r} holds NaN or infinite values")


def _shaped(raw: Any, shape: tuple[int, ...], where: str, least: float | None = None
            ) -> torch.Tensor | Any:
    """A stored array (tensor or numpy) of `shape`, finite, and at least `least` if given."""
    values = torch.as_tensor(raw) if not isinstance(raw, torch.Tensor) else raw
    if tuple(values.shape) != shape:
        raise ValueError(f"{where} has shape {tuple(values.shape)}, not {shape}")
    if not torch.isfinite(values).all():
        raise ValueError(f"{where} holds NaN or infinite values")
    if least is not None and (values < least).any():
        raise ValueError(f"{where} holds a value below {least:g}")
    return values


def _within(number: int, low: int, high: int, where: str) -> None:
    if not low <= number <= high:
        raise ValueError(f"{where} is {number:,}, outside [{low:,}, {high:,}]")
