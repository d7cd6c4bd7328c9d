"""Inference: a fitted model's forecasts for every series of a panel, from its last window,
one batched forward pass per chunk of series, back in data units with their timestamps."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from forecastr.data import calendar
from forecastr.data.future import future_times
from forecastr.data.panel import Panel, select, tail
from forecastr.modelfile.contents import Artifact
from forecastr.network import conformal, scaling
from forecastr.network.device import autocast, flush_denormals
from forecastr.network.inputs import Encoded, encode
from forecastr.network.model import Ensemble, Static, static_inputs
from forecastr.network.scaling import ScaleStats
from forecastr.network.static import encode as encode_static

log = logging.getLogger(__name__)

# series per forward pass: bounding window x series bounds the recurrent activations, so
# that memory stays flat whatever the window and however many series there are
CHUNK_STEPS = 2**18


def training_rows(artifact: Artifact, panel: Panel) -> np.ndarray:
    """(S,) each series' row in the training data, or -1 for a series the model never saw."""
    known = {series_id: s for s, series_id in enumerate(artifact.series["ids"])}
    return np.array([known.get(series_id, -1) for series_id in panel.ids], dtype=np.int64)


def series_stats(artifact: Artifact, panel: Panel, rows: np.ndarray) -> ScaleStats:
    """Stored statistics for series seen in training (`rows`, see training_rows); fitted on
    their history for new ones."""
    seen = rows >= 0
    loc = artifact.scaling.loc[np.where(seen, rows, 0)].copy()
    scale = artifact.scaling.scale[np.where(seen, rows, 0)].copy()
    if not seen.all():  # fitted on the new series alone: the panel may be large
        new = np.flatnonzero(~seen)
        own = scaling.fit(select(panel, new), artifact.scaling.kind)
        loc[new], scale[new] = own.loc, own.scale
    return ScaleStats(artifact.scaling.kind, loc, scale, artifact.scaling.floor)


@dataclass(frozen=True)
class ModelInputs:
    """What the forward pass reads, built once for all series of a panel."""

    stats: ScaleStats  # per-series scaling (stored for known series, fitted for new ones)
    times: np.ndarray  # (S, H) future timestamps of the steps asked for
    values: torch.Tensor  # (T_total, C + A) scaled panel with calendar channels
    indptr: torch.Tensor  # (S + 1,)
    known: np.ndarray  # (S, H_trained, F + A) future features and calendar of future steps
    widths: np.ndarray | None  # (S, J, H_trained, K) conformal half-widths, scaled units
    static: Static | None = None  # (S, ...) static features, for a model that reads them


def future_steps(artifact: Artifact, horizon: int | None = None) -> int:
    """How many steps of future features a forecast of `horizon` steps reads: the decoder
    reads them step by step, the direct head those of its whole trained horizon."""
    if artifact.config.mode == "many-to-one":
        return artifact.horizon
    return horizon or artifact.horizon


def model_inputs(artifact: Artifact, panel: Panel, device: torch.device,
                 horizon: int | None = None, future: np.ndarray | None = None
                 ) -> ModelInputs:
    """Scale the panel with the model's statistics and add its calendar channels, for
    forecasts of `horizon` steps (the model's own by default); `future` (S, steps, F) holds
    the values of its future features at the steps after each series' end (future_steps
    of them), in data units."""
    rows = training_rows(artifact, panel)
    stats = series_stats(artifact, panel, rows)
    times = future_times(panel, horizon or artifact.horizon)
    n_future = artifact.dimensions.n_future
    known = np.zeros((len(times), artifact.horizon, artifact.dimensions.n_known), np.float32)
    # steps past `horizon` are never read back: the decoder reads them only after the steps
    # asked for, and the direct head reads the calendar not at all
    known[:, :times.shape[1], n_future:] = calendar.features(
        times.reshape(-1), artifact.calendar).reshape(*times.shape, -1)
    if n_future:
        assert future is not None, "a model with future features needs their values"
        channels = slice(panel.schema.future_from, None)
        known[:, :future.shape[1], :n_future] = (
            (future - stats.loc[:, None, channels]) / stats.scale[:, None, channels])
    widths = None
    if artifact.conformal is not None:  # the series' own widths, pooled ones for new series
        widths = np.where((rows >= 0)[:, None, None, None],
                          artifact.conformal["widths"][np.maximum(rows, 0)],
                          artifact.conformal["pooled"][None])
    static = None
    if artifact.static is not None or artifact.config.id_embedding:
        codes, numbers = encode_static(panel, artifact.static,
                                       rows if artifact.config.id_embedding else None)
        static = static_inputs(codes, numbers, device)
    panel = tail(panel, artifact.window)  # only the last window is read
    values = np.concatenate([scaling.apply(panel, stats),
                             calendar.features(panel.times, artifact.calendar)], axis=1)
    return ModelInputs(stats, times, torch.from_numpy(values).to(device),
                       torch.from_numpy(panel.indptr).to(device), known, widths, static)


def last_windows(artifact: Artifact, inputs: ModelInputs, lo: int, hi: int) -> Encoded:
    """The network's inputs for the last window of series lo..hi-1, built as training
    builds a window that ends at the same row (inputs.encode)."""
    floor = scaling.window_floor(artifact.scaling)
    ends = inputs.indptr[1:]  # each series' forecast origin: one past its last row
    return encode(inputs.values, inputs.indptr, ends[lo:hi],
                  torch.arange(lo, hi, device=ends.device), artifact.window,
                  artifact.dimensions.n_targets, floor)


@torch.no_grad()
def forward(model: Ensemble, artifact: Artifact, inputs: ModelInputs, horizon: int,
            device: torch.device, precision: str = "32") -> tuple[np.ndarray, np.ndarray]:
    """Forecasts (S, H, K, Q) in data units (Q = 1 for a point model) and their timestamps
    (S, H): the last window of every series through the model, a chunk of series at a time."""
    with flush_denormals(device):
        return _forward(model, artifact, inputs, horizon, device, precision)


def _forward(model: Ensemble, artifact: Artifact, inputs: ModelInputs, horizon: int,
             device: torch.device, precision: str) -> tuple[np.ndarray, np.ndarray]:
    n_series = len(inputs.indptr) - 1
    n_targets = artifact.dimensions.n_targets
    model = model.to(device).eval()
    outputs = []
    chunk = max(64, CHUNK_STEPS // artifact.window)
    for lo in range(0, n_series, chunk):
        hi = min(lo + chunk, n_series)
        encoded = last_windows(artifact, inputs, lo, hi)
        targets, loc, scale = encoded.raw[..., :n_targets], encoded.loc, encoded.scale
        last = targets[:, -1:]  # (B, 1, K): a window always ends with an observed step
        flat = ((targets - last) * encoded.mask.unsqueeze(-1)).abs().amax(dim=1) == 0
        known = torch.from_numpy(inputs.known[lo:hi]).to(device)
        with autocast(device, precision):
            out = model(encoded.inputs, known, static=None if inputs.static is None
                        else inputs.static.of(slice(lo, hi))).float()  # (B, H, K, Q)
        if inputs.widths is not None:  # conformal bands around the point, in scaled units
            widths = torch.from_numpy(inputs.widths[lo:hi]).to(device).float()  # (B, J, H, K)
            lower, upper = conformal.bounds(out[..., artifact.dimensions.point], widths)
            out = torch.cat([out, lower.permute(0, 2, 3, 1), upper.permute(0, 2, 3, 1)], dim=-1)
        out = out.double()  # back to data units in float64: they may pass float32's range
        if loc is not None:
            out = out * scale.unsqueeze(-1) + loc.unsqueeze(-1)
        # a window that never changed is forecast to stay as it is, exactly: no network
        # offset on a zero or constant series (common in retail data)
        out = torch.where(flat[:, None, :, None], last.double().unsqueeze(-1), out)
        outputs.append(out.cpu().numpy())  # (B, H, K, Q)
    scaled = np.concatenate(outputs)[:, :horizon]  # (S, H, K, Q)
    result = np.stack([scaling.invert(scaled[..., q], inputs.stats, np.arange(n_series),
                                      slice(0, n_targets)) for q in range(scaled.shape[-1])],
                      axis=-1)
    return result, inputs.times[:, :horizon]


def forecast(model: Ensemble, artifact: Artifact, panel: Panel, horizon: int,
             device: torch.device, precision: str = "32", future: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts (S, H, K, Q) in data units and their timestamps (S, H); `future` as
    model_inputs takes it."""
    inputs = model_inputs(artifact, panel, device, horizon, future)
    return forward(model, artifact, inputs, horizon, device, precision)


