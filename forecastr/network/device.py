"""Where the tensors live and in which precision; the only module that asks about CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from forecastr.errors import DeviceError


def resolve_device(spec: str) -> torch.device:
    """'auto' -> CUDA when torch sees a GPU, else the CPU; 'cpu', 'cuda' and 'cuda:N' as asked."""
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {spec}: torch sees no CUDA GPU on this machine "
                              f"(use --device cpu or auto)")
        if ":" in spec:
            number = spec.split(":", 1)[1]
            if not number.isdigit() or int(number) >= torch.cuda.device_count():
                raise DeviceError(f"--device {spec}: this machine has "
                                  f"{torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
        return torch.device(spec)
    raise DeviceError(f"--device must be auto, cpu, cuda or cuda:N; got {spec!r}")


def resolve_precision(spec: str, device: torch.device) -> str:
    """'auto' -> bf16 on a GPU that supports it, else 16 on CUDA, 32 on the CPU."""
    if device.type != "cuda":
        if spec in ("16", "bf16"):
            raise DeviceError(f"--precision {spec} needs a CUDA device; the CPU trains in 32")
        return "32"
    if spec == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "16"
    return spec


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass on CUDA; a no-op in full precision."""
    if precision == "32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def flush_denormals(device: torch.device) -> Iterator[None]:
    """On the CPU, treat denormal floats as zero while the body runs. Gradients through
    hundreds of recurrent steps decay into denormals, which x86 CPUs process very slowly:
    flushing them trained a GRU at window 336 three times as fast (bench/results/
    denormals.md), with results as reproducible as before. Restored to torch's default (off)
    afterwards, since torch cannot tell what it was."""
    if device.type != "cpu" or not torch.set_flush_denormal(True):
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
