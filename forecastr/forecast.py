"""Forecasts from a trained model: DATA read and checked against the model's schema, the
last window of every series, one batched forward pass per chunk of series, inverse scaling,
and the future timestamps, returned in DATA's own layout."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

import numpy as np
import pandas as pd
import torch

from forecastr import calendar, scaling
from forecastr.artifact import Artifact
from forecastr.config import FitConfig
from forecastr.device import autocast
from forecastr.errors import DataError
from forecastr.inputs import Encoded, encode
from forecastr.model import Ensemble
from forecastr.outputs import Output
from forecastr.panel import Panel, select, tail
from forecastr.reader import read_panel
from forecastr.scaling import ScaleStats
from forecastr.timegrid import fixed_step

log = logging.getLogger(__name__)

# series per forward pass: bounding window x series bounds the recurrent activations, so
# that memory stays flat whatever the window and however many series there are
CHUNK_STEPS = 2**18
INT64_MAX = np.iinfo(np.int64).max  # also the last nanosecond pandas' times can hold
LAST_TIME = f"{pd.Timestamp.max:%Y-%m-%d %H:%M:%S}, the last time pandas holds"
# significant digits of a forecast as written: float32's 24-bit mantissa holds 7 to 8
FORECAST_DIGITS = 8


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


def future_times(panel: Panel, horizon: int) -> np.ndarray:
    """(S, H) timestamps (or integer steps) that follow each series' last one.

    Raises:
        DataError: when they would pass the last time pandas holds (2262-04-11) or the
            largest integer step, which would otherwise wrap around silently.
    """
    last = panel.times[panel.indptr[1:] - 1]  # (S,)
    steps = np.arange(1, horizon + 1)
    schema = panel.schema
    if schema.time_kind != "datetime":
        _check_reach(panel, last, horizon, schema.step, f"{INT64_MAX:,}, the largest step")
        return last[:, None] + steps[None, :] * schema.step
    offset = pd.tseries.frequencies.to_offset(schema.freq)
    if (step := fixed_step(offset)) is not None:
        _check_reach(panel, last.view(np.int64), horizon, step, LAST_TIME)
        return last[:, None] + steps[None, :] * np.timedelta64(step, "ns")
    out = np.empty((len(last), horizon), dtype="datetime64[ns]")
    for stamp in np.unique(last):  # series usually share their last timestamp
        try:
            ahead = pd.date_range(pd.Timestamp(stamp), periods=horizon + 1, freq=offset)[1:]
        except pd.errors.OutOfBoundsDatetime:
            _past_the_end(panel, int(np.argmax(last == stamp)), horizon, LAST_TIME, None)
        out[last == stamp] = ahead.to_numpy()
    return out


def _check_reach(panel: Panel, last: np.ndarray, horizon: int, step: int, end: str) -> None:
    """That `horizon` steps of `step` after each series' last time (as int64) stay in int64."""
    s = int(np.argmax(last))
    room = (INT64_MAX - int(last[s])) // step  # Python ints: this cannot overflow
    if room < horizon:
        _past_the_end(panel, s, horizon, end, room)


def _past_the_end(panel: Panel, s: int, horizon: int, end: str, room: int | None
                  ) -> NoReturn:
    times = panel.series(s)[1]
    shown = pd.Timestamp(times[-1]) if times.dtype.kind == "M" else int(times[-1])
    fewer = ("forecast fewer steps (--horizon)" if room is None else
             f"pass --horizon {room} or less" if room else "no step after it can be forecast")
    raise DataError(f"{panel.source}: series {panel.ids[s]!r} ends at {shown}, and {horizon} "
                    f"steps after it pass {end}; {fewer}")


@dataclass(frozen=True)
class ModelInputs:
    """What the forward pass reads, built once for all series of a panel."""

    stats: ScaleStats  # per-series scaling (stored for known series, fitted for new ones)
    times: np.ndarray  # (S, H) future timestamps of the steps asked for
    values: torch.Tensor  # (T_total, C + A) scaled panel with calendar channels
    indptr: torch.Tensor  # (S + 1,)
    future_calendar: np.ndarray  # (S, H_trained, A) calendar of the future steps
    widths: np.ndarray | None  # (S, J, H_trained, K) conformal half-widths, scaled units


def model_inputs(artifact: Artifact, panel: Panel, device: torch.device,
                 horizon: int | None = None) -> ModelInputs:
    """Scale the panel with the model's statistics and add its calendar channels, for
    forecasts of `horizon` steps (the model's own by default)."""
    rows = training_rows(artifact, panel)
    stats = series_stats(artifact, panel, rows)
    times = future_times(panel, horizon or artifact.horizon)
    future_calendar = np.zeros((len(times), artifact.horizon, 2 * len(artifact.calendar)),
                               np.float32)  # steps past `horizon` are never read back: the
    # decoder reads them only after the steps asked for, and the direct head not at all
    future_calendar[:, :times.shape[1]] = calendar.features(
        times.reshape(-1), artifact.calendar).reshape(*times.shape, -1)
    widths = None
    if artifact.conformal is not None:  # the series' own widths, pooled ones for new series
        widths = np.where((rows >= 0)[:, None, None, None],
                          artifact.conformal["widths"][np.maximum(rows, 0)],
                          artifact.conformal["pooled"][None])
    panel = tail(panel, artifact.window)  # only the last window is read
    values = np.concatenate([scaling.apply(panel, stats),
                             calendar.features(panel.times, artifact.calendar)], axis=1)
    return ModelInputs(stats, times, torch.from_numpy(values).to(device),
                       torch.from_numpy(panel.indptr).to(device), future_calendar, widths)


def last_windows(artifact: Artifact, inputs: ModelInputs, lo: int, hi: int) -> Encoded:
    """The network's inputs for the last window of series lo..hi-1, built as training
    builds a window that ends at the same row (inputs.encode)."""
    floor = artifact.scaling.floor if artifact.scaling.kind == "window" else None
    ends = inputs.indptr[1:]  # each series' forecast origin: one past its last row
    return encode(inputs.values, inputs.indptr, ends[lo:hi],
                  torch.arange(lo, hi, device=ends.device), artifact.window,
                  artifact.dimensions.n_targets, floor)


@torch.no_grad()
def forward(model: Ensemble, artifact: Artifact, inputs: ModelInputs, horizon: int,
            device: torch.device, precision: str = "32") -> tuple[np.ndarray, np.ndarray]:
    """Forecasts (S, H, K, Q) in data units (Q = 1 for a point model) and their timestamps
    (S, H): the last window of every series through the model, a chunk of series at a time."""
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
        cal = torch.from_numpy(inputs.future_calendar[lo:hi]).to(device)
        with autocast(device, precision):
            out = model(encoded.inputs, cal).float()  # (B, H, K, Q)
        if inputs.widths is not None:  # conformal bands around the point, in scaled units
            width = torch.from_numpy(inputs.widths[lo:hi]).to(device).permute(0, 2, 3, 1)
            point = artifact.dimensions.point
            centre = out[..., point:point + 1]
            out = torch.cat([out, centre - width.float(), centre + width.float()], dim=-1)
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
             device: torch.device, precision: str = "32") -> tuple[np.ndarray, np.ndarray]:
    """Forecasts (S, H, K, Q) in data units and their timestamps (S, H)."""
    inputs = model_inputs(artifact, panel, device, horizon)
    return forward(model, artifact, inputs, horizon, device, precision)


def to_frame(panel: Panel, values: np.ndarray, times: np.ndarray, with_history: bool = False,
             extra: list[Output] | None = None, point: int = 0) -> pd.DataFrame:
    """Forecasts (S, H, K, Q) in the input's layout: long gives id, time and target columns;
    single and wide give the time column and one column per target series. The point
    forecast (output `point`) keeps the target's name; each output of `extra` adds a column
    named `<target>-<suffix>` beside it (see outputs.extra_outputs)."""
    schema = panel.schema
    horizon, k = values.shape[1], values.shape[2]
    outputs = [(point, ""), *[(o.index, f"-{o.suffix}") for o in extra or []]]
    time_col = schema.time_col or "step"
    stamps = times.reshape(-1)
    ids = np.repeat(np.asarray(panel.ids, dtype=object), horizon)
    # (S * H, K * outputs), to the digits the network's float32 arithmetic carries (more
    # would be noise), in float64 so that forecasts past float32's range are still numbers
    flat = significant(np.concatenate([values[..., q].reshape(-1, k) for q, _ in outputs],
                                      axis=1), FORECAST_DIGITS)
    if with_history:  # written as read: float64, integers above 2**24 included
        history = np.full((len(panel.values), flat.shape[1]), np.nan)
        history[:, :k] = panel.values[:, :k]  # quantile columns stay empty for the past
        ids = np.concatenate([np.repeat(np.asarray(panel.ids, dtype=object), panel.lengths),
                              ids])
        stamps = np.concatenate([panel.times, stamps])
        flat = np.concatenate([history, flat])
        owner = np.concatenate([np.repeat(np.arange(panel.n_series), panel.lengths),
                                np.repeat(np.arange(panel.n_series), horizon)])
        order = np.argsort(owner, kind="stable")  # each series: its history, then forecasts
        ids, stamps, flat = ids[order], stamps[order], flat[order]
    when = _time_column(stamps, schema.tz)
    if schema.layout == "long":
        frame = pd.DataFrame({schema.id_col: ids, time_col: when})
        for c, name in enumerate(schema.targets):
            for o, (_, suffix) in enumerate(outputs):
                frame[name + suffix] = flat[:, o * k + c]
        return frame
    wide = pd.DataFrame({"series": ids, time_col: when})
    for o, (_, suffix) in enumerate(outputs):
        wide["value" + suffix] = flat[:, o * k]
    wide = wide.pivot(index=time_col, columns="series")  # columns: (value+suffix, series)
    columns = {(f"value{suffix}", series): f"{series}{suffix}"
               for series in panel.ids for _, suffix in outputs}
    wide = wide.reindex(columns=list(columns))
    wide.columns = list(columns.values())
    return wide.reset_index()


def significant(values: np.ndarray, digits: int) -> np.ndarray:
    """float64 values rounded to `digits` significant decimal digits, so that CSV and JSON
    show 1234.5679 rather than 1234.5678710937500; zero and non-finite values pass as they
    are."""
    magnitude = np.abs(values)
    usable = np.isfinite(values) & (magnitude > 0)
    exponent = np.floor(np.log10(np.where(usable, magnitude, 1.0)))
    shift = digits - 1 - exponent  # decimal places to keep: negative above 10**digits
    with np.errstate(over="ignore", invalid="ignore"):
        # dividing by an exact power of ten (up to 10**22) gives the nearest float64 to the
        # rounded decimal, whose shortest repr is the short text wanted
        rounded = np.where(shift >= 0, np.round(values * 10.0**shift) / 10.0**shift,
                           np.round(values / 10.0**-shift) * 10.0**-shift)
    rounded = np.where(usable & np.isfinite(rounded), rounded, values)
    far = usable & (np.abs(shift) > 22)  # rare: rounded through text instead
    rounded[far] = [float(f"{value:.{digits - 1}e}") for value in values[far]]
    return rounded


def _time_column(stamps: np.ndarray, tz: str | None) -> pd.Series | np.ndarray:
    if stamps.dtype.kind != "M":
        return stamps.astype(np.int64)
    index = pd.DatetimeIndex(stamps)
    return index.tz_localize(tz) if tz else index


def read_for_model(source: str | Path | BinaryIO, loaded: Artifact,
                   model: str = "the model") -> Panel:
    """Read DATA with the columns and data options the model was fitted with, and check it
    fits the model; `model` names the model file in messages."""
    schema = loaded.schema
    cfg = dataclasses.replace(loaded.config, time_col=schema.time_col, id_col=schema.id_col,
                              targets=schema.targets, features=schema.features)
    try:
        if isinstance(source, (str, Path)) and str(source) != "-":
            panel = _read_with_model_freq(source, cfg, schema.freq, model)
        else:  # a stream can be read once: always use the model's frequency
            panel = read_panel(source, dataclasses.replace(cfg, freq=schema.freq), model)
    except DataError as exc:
        if " --" not in str(exc):
            raise
        # the reader suggests fit's data options, which predict and evaluate do not have
        raise DataError(f"{exc} (a fit option: {model} reads DATA with the options it was "
                        f"fitted with; fix DATA or refit)") from None
    if panel.schema.time_kind != schema.time_kind:
        raise DataError(f"{panel.source}: the time column holds {panel.schema.time_kind} "
                        f"values but {model} was fitted on {schema.time_kind} ones; give DATA "
                        f"the model's kind of time column")
    if schema.freq != panel.schema.freq:
        raise DataError(f"{panel.source}: data are at frequency {panel.schema.freq} but "
                        f"{model} was fitted at {schema.freq}; give DATA at {schema.freq}, or "
                        f"fit a model on it")
    if panel.schema.tz != schema.tz:  # the calendar inputs and forecast times would shift
        raise DataError(f"{panel.source}: times are in time zone {panel.schema.tz or 'none'} "
                        f"but {model} was fitted on {schema.tz or 'times without a zone'}; "
                        f"give DATA in the model's zone, or fit a model on it")
    if panel.schema.layout != schema.layout:
        raise DataError(f"{panel.source}: a {panel.schema.layout} file, but {model} was "
                        f"fitted on a {schema.layout} file; give DATA in that layout")
    return panel


def _read_with_model_freq(source: str | Path, cfg: FitConfig, freq: str | None,
                          model: str) -> Panel:
    """Infer the frequency like fit did; fall back to the model's when too few rows tell."""
    try:
        return read_panel(source, cfg, model)
    except DataError as exc:
        if freq is None or "cannot infer a regular frequency" not in str(exc):
            raise
        return read_panel(source, dataclasses.replace(cfg, freq=freq), model)
