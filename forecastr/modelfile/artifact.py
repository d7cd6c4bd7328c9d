"""The .fcst model file: its format version with the upgrades from older ones, saving and
loading what a fitted model stores (contents.Artifact, checked by integrity.py), and the
network built from it. The bytes go through the safe container (container.py) that
checkpoints use too."""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forecastr.config import FitConfig, ScalerKind
from forecastr.config_values import from_mapping
from forecastr.data.panel import Schema
from forecastr.errors import ConfigError, ModelFileError
from forecastr.modelfile import container, integrity
from forecastr.modelfile.contents import Artifact
from forecastr.network.model import Dimensions, Ensemble
from forecastr.network.scaling import ScaleStats

MODEL = container.Kind(
    format="forecastr-model", noun="model file",
    wanted="give the .fcst file that forecastr fit wrote",
    remedy="fit the model again, or restore the file from a copy", too_old="refit the model")
# 2: quantile models (config.quantiles, dimensions.point), then intervals
# 3: ensembles (config.ensemble; weights under nets.<member>.), step and time budgets,
#    a seasonal-naive baseline (config.baseline, dimensions.season), the least spread of a
#    scaled window (scaling.floor)
# 4: the settled window and horizon live in the config only (config.window, config.horizon)
# 5: how dates are read (config.dayfirst, config.date_format)
# 6: future-known features (config.future_features, schema.future_features,
#    dimensions.n_future)
# 7: static features and id embeddings (config.static_features, config.id_embedding,
#    schema.static_features, dimensions.static_levels and n_static_numbers, the static
#    entry)
# 8: segment-wise recurrence (config.segment)
# 9: the CPU threads asked for (config.threads)
# 10: the Theta baseline (config.baseline "theta"), and the starting point's validation loss
#     (training.baseline_loss)
FORMAT_VERSION = 10


def _from_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 1 had point models only."""
    return {**payload, "config": {**payload["config"], "quantiles": []},
            "dimensions": {**payload["dimensions"], "point": 0}, "format_version": 2}


def _from_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 2 held one network, trained without step or time bounds."""
    # format 2 files written before intervals existed lack their two keys
    config = {"intervals": [], "interval_method": "quantile", **payload["config"]}
    return {**payload, "config": {**config, "ensemble": 1, "max_steps": 0, "max_time": 0.0,
                                  "baseline": "none"},
            "dimensions": {**payload["dimensions"], "season": 1},
            "state_dict": {f"nets.0.{k}": v for k, v in payload["state_dict"].items()},
            "scaling": {**payload["scaling"], "floor": 0.0},
            "format_version": 3}


def _from_v3(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 3 kept the settled window and horizon beside the config, which held null where
    the frequency had chosen them."""
    rest = {k: v for k, v in payload.items() if k not in ("window", "horizon")}
    return {**rest, "config": {**payload["config"], "window": payload["window"],
                               "horizon": payload["horizon"]}}


def _from_v4(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 4 read dates as pandas does: ISO 8601, or the first value's format."""
    return {**payload, "config": {**payload["config"], "dayfirst": None, "date_format": None}}


def _from_v5(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 5 had past features only."""
    return {**payload, "config": _added(payload["config"], future_features=[]),
            "schema": _added(payload["schema"], future_features=[]),
            "dimensions": _added(payload["dimensions"], n_future=0)}


def _from_v6(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 6 had no static features."""
    return {**payload, "config": _added(payload["config"], static_features=[], id_embedding=0),
            "schema": _added(payload["schema"], static_features=[]),
            "dimensions": _added(payload["dimensions"], static_levels=[], n_static_numbers=0)}


def _from_v7(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 7 read the window step by step."""
    return {**payload, "config": _added(payload["config"], segment=1)}


def _from_v8(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 8 left the threads to torch."""
    return {**payload, "config": _added(payload["config"], threads=None)}


def _from_v9(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 9 had no Theta baseline and did not record its starting point's loss: nothing
    to add (the training summary reads a missing loss as not recorded)."""
    return payload


def _added(entry: Any, **defaults: Any) -> Any:
    """An entry with keys a later format added; what is not a table is left for the
    checks of the loaded file to name."""
    return {**entry, **defaults} if isinstance(entry, dict) else entry


# UPGRADES[n] turns the payload of format n into that of format n + 1, so that model files
# written by older releases keep loading; a file older than the chain reaches is refused
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _from_v1, 2: _from_v2, 3: _from_v3, 4: _from_v4, 5: _from_v5, 6: _from_v6,
    7: _from_v7, 8: _from_v8, 9: _from_v9}
REQUIRED = ("config", "schema", "dimensions", "calendar", "scaling", "series", "state_dict",
            "training", "versions")
ENTRIES = {*REQUIRED, "format", "format_version", "created", "conformal", "static"}


def save(path: str | Path, artifact: Artifact) -> None:
    """Write the model file atomically; weights that are not finite are never written."""
    for name, tensor in artifact.state_dict.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelFileError(f"{path}: not written: weight {name!r} is NaN or infinite")
    payload = {
        "format": MODEL.format,
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": _plain(artifact.versions),
        "config": _plain(dataclasses.asdict(artifact.config)),
        "schema": _plain(dataclasses.asdict(artifact.schema)),
        "dimensions": _plain(dataclasses.asdict(artifact.dimensions)),
        "calendar": list(artifact.calendar),
        "scaling": {"kind": artifact.scaling.kind, "floor": float(artifact.scaling.floor),
                    "loc": torch.from_numpy(np.asarray(artifact.scaling.loc, np.float64)),
                    "scale": torch.from_numpy(np.asarray(artifact.scaling.scale, np.float64))},
        "series": _plain(artifact.series),
        "state_dict": {k: v.detach().cpu() for k, v in artifact.state_dict.items()},
        "training": _plain(artifact.training),
    }
    if artifact.static is not None:
        payload["static"] = _plain(artifact.static.as_dict())
    if artifact.conformal is not None:
        payload["conformal"] = {k: torch.from_numpy(np.asarray(v, np.float64))
                                for k, v in artifact.conformal.items()}
    container.write(path, payload)


def load(path: str | Path) -> Artifact:
    """Read and check a model file; every problem is a one-line ModelFileError."""
    name = str(path)
    payload = container.read(path, MODEL, FORMAT_VERSION, oldest_readable())
    _require(payload, name)
    try:
        payload = _upgraded(payload)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{name}: corrupt model file ({exc}); {MODEL.remedy}") \
            from None
    _require(payload, name)  # an upgrade that could not make sense of the file
    if (entry := integrity.unknown_entry(payload, ENTRIES)) is not None:
        # what a later release added, without a format bump or before one was read here
        raise ModelFileError(f"{name}: written by a newer forecastr (it holds {entry}, which "
                             f"this one does not know); upgrade forecastr")
    try:
        return _typed(payload, os.stat(path).st_size)
    except (ConfigError, AttributeError, TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{name}: corrupt model file ({exc}); {MODEL.remedy}") \
            from None


def _require(payload: dict[str, Any], name: str) -> None:
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise ModelFileError(f"{name}: corrupt model file: no {missing[0]!r} entry; "
                             f"{MODEL.remedy}")


def oldest_readable() -> int:
    """The oldest model file format that UPGRADES bring up to FORMAT_VERSION."""
    version = FORMAT_VERSION
    while version - 1 in UPGRADES:
        version -= 1
    return version


def _upgraded(payload: dict[str, Any]) -> dict[str, Any]:
    for version in range(payload["format_version"], FORMAT_VERSION):
        payload = {**UPGRADES[version](payload), "format_version": version + 1}
    return payload


def _typed(payload: dict[str, Any], file_size: int) -> Artifact:
    """The payload as an Artifact, with every value's type and every tensor's layout checked
    (integrity.py) before anything is built from them."""
    weights = integrity.mapping(payload["state_dict"], "state_dict")
    scaling = integrity.mapping(payload["scaling"], "scaling")
    conformal = payload.get("conformal")
    conformal = None if conformal is None else integrity.mapping(conformal, "conformal")
    tensors = {**{f"weight {key!r}": value for key, value in weights.items()},
               **{f"scaling.{key}": scaling.get(key) for key in ("loc", "scale")},
               **{f"conformal.{key}": value for key, value in (conformal or {}).items()}}
    container.within_file([container.tensor(t, where) for where, t in tensors.items()],
                          file_size)
    series = integrity.mapping(payload["series"], "series")
    config = from_mapping(payload["config"], "config")
    integrity.complete(config, FitConfig, "config")
    loaded = Artifact(
        config=FitConfig(**config),
        schema=Schema(**integrity.table(Schema, payload["schema"], "schema")),
        dimensions=Dimensions(**integrity.table(Dimensions, payload["dimensions"],
                                                "dimensions")),
        calendar=integrity.value(tuple[str, ...], payload["calendar"], "calendar"),
        scaling=ScaleStats(integrity.value(ScalerKind, scaling.get("kind"), "scaling.kind"),
                           scaling["loc"].double().numpy(), scaling["scale"].double().numpy(),
                           integrity.value(float, scaling.get("floor"), "scaling.floor")),
        series={**series, "ids": list(integrity.value(tuple[str, ...], series.get("ids"),
                                                       "series.ids"))},
        state_dict=weights, training=integrity.mapping(payload["training"], "training"),
        versions=integrity.mapping(payload["versions"], "versions"),
        conformal=None if conformal is None
        else {key: value.double().numpy() for key, value in conformal.items()},
        static=None if payload.get("static") is None
        else integrity.static_stats(payload["static"]))
    integrity.check(loaded)
    return loaded


def build_model(artifact: Artifact, name: str = "model file") -> Ensemble:
    """The network of a loaded artifact, with its weights, in evaluation mode."""
    model = Ensemble(artifact.config, artifact.dimensions)
    try:
        model.load_state_dict(artifact.state_dict, strict=True)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "mismatch"
        raise ModelFileError(f"{name}: weights do not fit the stored architecture ({first}); "
                             f"{MODEL.remedy}") \
            from None
    return model.eval()


def _plain(value: Any) -> Any:
    """Only builtin JSON-like values, recursively: weights-only loading accepts nothing else
    (not even str subclasses such as torch.__version__, nor numpy scalars)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if value is None:
        return None
    raise TypeError(f"cannot store {type(value).__name__} in a model file")
