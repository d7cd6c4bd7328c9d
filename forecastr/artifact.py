"""The .fcst model file: a plain dict of tensors and JSON-able values, written atomically and
read with torch.load(weights_only=True), so loading one never runs code from it."""

from __future__ import annotations

import dataclasses
import datetime
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forecastr import __version__
from forecastr.config import FitConfig, from_mapping
from forecastr.errors import ConfigError, ModelFileError
from forecastr.model import Dimensions, Forecaster
from forecastr.panel import Schema
from forecastr.scaling import ScaleStats
from forecastr.writer import atomic_write

FORMAT = "forecastr-model"
FORMAT_VERSION = 1
REQUIRED = ("config", "window", "horizon", "schema", "dimensions", "calendar", "scaling",
            "series", "state_dict", "training", "versions")


@dataclass(frozen=True)
class Artifact:
    """Everything a model file holds, typed again after loading."""

    config: FitConfig
    window: int
    horizon: int
    schema: Schema
    dimensions: Dimensions
    calendar: tuple[str, ...]  # calendar feature names, in channel order
    scaling: ScaleStats
    series: dict[str, Any]  # ids (S,) and last_times (S,) seen in training
    state_dict: dict[str, torch.Tensor]
    training: dict[str, Any]  # summary: epochs, best epoch and loss, seconds, device, ...
    versions: dict[str, str]


def save(path: str | Path, artifact: Artifact) -> None:
    """Write the model file atomically; weights that are not finite are never written."""
    for name, tensor in artifact.state_dict.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelFileError(f"{path}: not written: weight {name!r} is NaN or infinite")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _plain(artifact.versions),
        "config": _plain(dataclasses.asdict(artifact.config)),
        "window": artifact.window,
        "horizon": artifact.horizon,
        "schema": _plain(dataclasses.asdict(artifact.schema)),
        "dimensions": _plain(dataclasses.asdict(artifact.dimensions)),
        "calendar": list(artifact.calendar),
        "scaling": {"kind": artifact.scaling.kind,
                    "loc": torch.from_numpy(np.asarray(artifact.scaling.loc, np.float64)),
                    "scale": torch.from_numpy(np.asarray(artifact.scaling.scale, np.float64))},
        "series": _plain(artifact.series),
        "state_dict": {k: v.detach().cpu() for k, v in artifact.state_dict.items()},
        "training": _plain(artifact.training),
    }
    with atomic_write(path) as stream:
        torch.save(payload, stream)


def versions() -> dict[str, str]:
    return {"forecastr": __version__, "torch": torch.__version__}


def load(path: str | Path) -> Artifact:
    """Read and check a model file; every problem is a one-line ModelFileError."""
    name = str(path)
    if Path(path).is_dir():
        raise ModelFileError(f"{name}: is a directory, not a model file")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"{name}: no such model file") from None
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # a reference to a class or function to call
            raise ModelFileError(f"{name}: refused: the file holds Python objects that could "
                                 f"run code when loaded; forecastr model files never do") from None
        raise ModelFileError(f"{name}: not a forecastr model file") from None
    except OSError as exc:
        raise ModelFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    except Exception:  # noqa: BLE001 - torch raises many types for damaged archives
        raise ModelFileError(f"{name}: not a forecastr model file, or truncated or corrupt") \
            from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not a forecastr model file")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{name}: written by a newer forecastr (model format {version}; "
                             f"this one reads up to {FORMAT_VERSION}); upgrade forecastr")
    missing = [key for key in REQUIRED if key not in payload]
    if missing:
        raise ModelFileError(f"{name}: corrupt model file: no {missing[0]!r} entry")
    try:
        return _typed(payload, name)
    except (ConfigError, TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{name}: corrupt model file ({exc})") from None


def _typed(payload: dict[str, Any], name: str) -> Artifact:
    config = FitConfig(**from_mapping(payload["config"], f"{name}: config"))
    schema_fields = {k: tuple(v) if isinstance(v, list) else v
                     for k, v in payload["schema"].items()}
    scaling = payload["scaling"]
    return Artifact(
        config=config, window=int(payload["window"]), horizon=int(payload["horizon"]),
        schema=Schema(**schema_fields), dimensions=Dimensions(**payload["dimensions"]),
        calendar=tuple(payload["calendar"]),
        scaling=ScaleStats(scaling["kind"], scaling["loc"].numpy(), scaling["scale"].numpy()),
        series=payload["series"], state_dict=payload["state_dict"],
        training=payload["training"], versions=payload["versions"])


def build_model(artifact: Artifact, name: str = "model file") -> Forecaster:
    """The network of a loaded artifact, with its weights, in evaluation mode."""
    model = Forecaster(artifact.config, artifact.dimensions, artifact.horizon,
                       artifact.window)
    try:
        model.load_state_dict(artifact.state_dict, strict=True)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "mismatch"
        raise ModelFileError(f"{name}: weights do not fit the stored architecture ({first})") \
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
