"""The checkpoint an interrupted fit leaves beside its model file (model.fcst.ckpt): the
training state as plain tensors and values, plus what it was trained on, so that `--resume`
refuses to continue a different run."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forecastr.config import FitConfig, flag_name
from forecastr.errors import ConfigError, DataError
from forecastr.modelfile import container

CHECKPOINT = container.Kind(
    format="forecastr-checkpoint", noun="checkpoint",
    wanted="give the checkpoint (MODEL.fcst.ckpt) that an interrupted forecastr fit wrote",
    remedy="run without --resume to start over", too_old="run without --resume to start over")
FORMAT_VERSION = 1


def path_for(output: str | Path) -> Path:
    """model.fcst -> model.fcst.ckpt, in the same folder (so the same writability check)."""
    return Path(f"{output}.ckpt")


def fingerprint(*arrays: np.ndarray) -> str:
    """A digest of the exact training inputs (scaled values, series bounds, windows)."""
    digest = hashlib.sha256()
    for array in arrays:
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()


def save(path: str | Path, state: dict[str, Any], cfg: FitConfig, data_digest: str,
         processes: int = 1, shard_series: bool = False) -> None:
    """Write the checkpoint atomically: a crash while writing leaves the previous one.
    `processes`: how many trained together (a distributed run resumes with as many, and
    with each reading only its own series again when `shard_series`)."""
    payload = {"format": CHECKPOINT.format, "format_version": FORMAT_VERSION,
               "created": datetime.datetime.now(datetime.UTC).isoformat(
                   timespec="seconds"),
               "versions": {k: str(v) for k, v in container.versions().items()},
               "config": _comparable(cfg), "data": data_digest, "processes": processes,
               "shard_series": shard_series, "state": state}
    container.write(path, payload)


def load(path: str | Path, cfg: FitConfig, data_digest: str, processes: int = 1,
         shard_series: bool = False) -> dict[str, Any]:
    """The training state of a checkpoint written by the same run: the same configuration
    (the device and precision may change), the same data and the same number of processes,
    sharing the series out alike; anything else is refused."""
    payload = container.read(path, CHECKPOINT, FORMAT_VERSION)
    trained = payload.get("processes", 1)
    if trained != processes:
        raise ConfigError(f"{path}: the interrupted run trained on {trained} process(es), this "
                          f"one on {processes}; resume with as many (torchrun "
                          f"--nproc-per-node, or fit --nproc), or run without --resume to "
                          f"start over")
    if payload.get("shard_series", False) != shard_series:
        was, now = ("without", "with") if shard_series else ("with", "without")
        raise ConfigError(f"{path}: the interrupted run trained {was} --shard-series, this one "
                          f"{now}; resume with the same options, or run without --resume to "
                          f"start over")
    stored, wanted = payload.get("config"), _comparable(cfg)
    if not isinstance(stored, dict) or not isinstance(payload.get("state"), dict):
        raise ConfigError(f"{path}: corrupt checkpoint; run without --resume to start over")
    for f in dataclasses.fields(FitConfig):
        if f.metadata["group"] != "system" and stored.get(f.name) != wanted[f.name]:
            raise ConfigError(
                f"{path}: the interrupted run had --{flag_name(f)} "
                f"{_shown(stored.get(f.name))}, this one {_shown(wanted[f.name])}; resume "
                f"with the same options, or run without --resume to start over")
    if payload.get("data") != data_digest:
        raise DataError(f"{path}: the data differ from those the interrupted run trained "
                        f"on; resume with the same data, or run without --resume to start over")
    try:  # what resume.restore then checks against the network is bounded by the file
        container.within_file([container.tensor(t, "a tensor", floats=False)
                               for t in _tensors(payload["state"])], os.stat(path).st_size)
    except ValueError as exc:
        raise ConfigError(f"{path}: corrupt checkpoint ({exc}); run without --resume to start "
                          f"over") from None
    return payload["state"]


def _tensors(value: Any) -> list[Any]:
    """Every tensor in nested dicts and lists."""
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return [value] if isinstance(value, torch.Tensor) else []


def _comparable(cfg: FitConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(cfg).items()}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(none)"
    return "(unset)" if value is None else str(value)
