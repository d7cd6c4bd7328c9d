"""Training throughput: forecastr's own training loop (train.train, batches gathered from the
panel on the device) against a bare PyTorch loop over the same model, in the same process.

The bare loop is the limit: the same Forecaster, random batches already in memory, forward,
loss, backward and the optimizer step, nothing else. Windows per second is the measure; each
figure is a median of several interleaved runs.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from bench.data import panel_values
from forecastr.config import FitConfig
from forecastr.data.panel import Panel, Schema
from forecastr.network.inputs import encoder_inputs
from forecastr.network.model import Dimensions, Ensemble
from forecastr.network.scaling import window_normalise
from forecastr.network.windows import build
from forecastr.training import train


@dataclass(frozen=True)
class Case:
    cell: str
    window: int
    hidden: int
    batch: int
    horizon: int = 24
    segment: int = 1


def synthetic_panel(series: int, length: int) -> Panel:
    """A panel of integer-step series (no calendar channels), as the reader would build."""
    values = panel_values(series, length).astype(np.float64).reshape(-1, 1)
    indptr = np.arange(series + 1, dtype=np.int64) * length
    schema = Schema(layout="long", time_col="ds", time_kind="integer", freq=None, step=1,
                    tz=None, id_col="unique_id", targets=("y",), features=(), channels=("y",))
    times = np.tile(np.arange(length, dtype=np.int64), series)
    return Panel(values=values, times=times, indptr=indptr,
                 ids=tuple(f"s{s}" for s in range(series)), schema=schema,
                 filled=np.zeros(series, np.int64), source="synthetic", empty=())


def setup(case: Case, device: torch.device, series: int = 16, length: int = 2000):
    cfg = FitConfig(cell=case.cell, window=case.window, horizon=case.horizon,
                    hidden=case.hidden, batch_size=case.batch, val_windows=0,
                    segment=case.segment,
                    calendar=False, highway=False, epochs=1, patience=100,
                    # what a fit of seasonal data starts from and trains on
                    baseline="seasonal-naive", loss="huber", device=str(device))
    panel = synthetic_panel(series, length)
    split = build(panel, case.window, case.horizon, 1, 0)
    dims = Dimensions(n_inputs=2, n_targets=1, n_calendar=0)
    torch.manual_seed(0)
    model = Ensemble(cfg, dims).to(device)
    data = train.TrainingData(
        values=torch.from_numpy(panel.values.astype(np.float32)).to(device),
        indptr=torch.from_numpy(panel.indptr).to(device), window=case.window,
        horizon=case.horizon, n_targets=1, known_from=1, window_floor=0.0)
    windows = train.Windows.from_index(split.train, device)
    empty = train.Windows.from_index(split.val, device)
    return cfg, model, data, windows, empty


def forecastr_rate(cfg: FitConfig, model: Ensemble, data, windows, empty, batches: int,
                   device: torch.device, precision: str) -> float:
    """Windows per second of one train.train epoch of `batches` batches."""
    run = FitConfig(**{**cfg.__dict__, "epoch_size": batches * cfg.batch_size})
    _sync(device)
    started = time.perf_counter()
    train.train(model, data, windows, empty, run, device, precision)
    _sync(device)
    return batches * cfg.batch_size / (time.perf_counter() - started)


def bare_rate(cfg: FitConfig, model: Ensemble, case: Case, batches: int,
              device: torch.device, precision: str) -> float:
    """Windows per second of the bare loop: in-memory batches, forward, loss, backward, step."""
    generator = torch.Generator().manual_seed(1)
    pool = []
    for _ in range(4):  # a few distinct batches, cycled
        x = torch.randn(case.batch, case.window, 1, generator=generator)
        mask = torch.ones(case.batch, case.window, dtype=torch.bool)
        y = torch.randn(case.batch, case.horizon, 1, generator=generator)
        x, y, _, _ = window_normalise(x, y, mask, 1, floor=0.0)  # as TrainingData's
        pool.append((encoder_inputs(x, mask).to(device), y.to(device),
                     torch.zeros(case.batch, case.horizon, 0, device=device)))
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_of = torch.nn.functional.huber_loss
    model.train()
    _sync(device)
    started = time.perf_counter()
    for step in range(batches):
        inputs, target, calendar = pool[step % len(pool)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            output = model(inputs, calendar)
        loss = loss_of(output[..., 0].float(), target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    _sync(device)
    return batches * case.batch / (time.perf_counter() - started)


def measure(case: Case, device: torch.device, precision: str = "32", repeats: int = 5,
            seconds: float = 1.0) -> dict:
    """Median windows/s of both loops over `repeats` interleaved runs of about `seconds`."""
    cfg, model, data, windows, empty = setup(case, device)
    bare_model = copy.deepcopy(model)
    # warm up both paths (allocator, kernels, Adam's lazy state), then size the runs
    bare_rate(cfg, bare_model, case, 2, device, precision)
    forecastr_rate(cfg, model, data, windows, empty, 2, device, precision)
    probe = bare_rate(cfg, bare_model, case, 3, device, precision)
    batches = max(3, round(seconds * probe / case.batch))
    ours, bare = [], []
    for _ in range(repeats):
        ours.append(forecastr_rate(cfg, model, data, windows, empty, batches, device,
                                   precision))
        bare.append(bare_rate(cfg, bare_model, case, batches, device, precision))
    ratios = [o / b for o, b in zip(ours, bare)]
    return {**case.__dict__, "device": device.type, "precision": precision,
            "batches_per_run": batches, "forecastr_windows_per_s": statistics.median(ours),
            "bare_windows_per_s": statistics.median(bare),
            "ratio": statistics.median(ratios)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
