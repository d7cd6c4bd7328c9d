"""Forecaster: a recurrent encoder (RNN, LSTM or GRU; stacked, bidirectional) with a dense
head over the whole horizon (many-to-one) or a recurrent decoder unrolled over it
(many-to-many).

Shape legend: B batch, L window (input steps), H horizon, N inputs per step, K targets,
F future-known features and A calendar channels of a future step (F + A are known ahead),
Q quantiles per output (1 = a point forecast), D hidden units, E directions (2 when
bidirectional), R stacked recurrent layers, M ensemble members. (S, the series of a panel
elsewhere, does not occur here.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from forecastr.config import FitConfig
from forecastr.network import theta

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass(frozen=True)
class Dimensions:
    """What the data fixes about the network; the config fixes the rest."""

    n_inputs: int  # N: targets + features + future features + calendar + observed mask
    n_targets: int  # K
    n_calendar: int  # A: calendar channels, also fed to the decoder for each future step
    n_quantiles: int = 1  # Q
    point: int = 0  # which of the Q outputs is the point forecast (the median)
    season: int = 1  # steps per seasonal cycle, for a seasonal-naive baseline
    # F: future-known features, read for the horizon (the decoder per step, the head whole)
    n_future: int = 0
    # levels (with the unknown one) of each categorical static feature, then of the series
    # ids when the config asks for an id embedding
    static_levels: tuple[int, ...] = ()
    n_static_numbers: int = 0  # numeric static features

    @property
    def n_known(self) -> int:
        """Channels known for each future step: the future features, then the calendar."""
        return self.n_future + self.n_calendar


@dataclass(frozen=True)
class Static:
    """What a model reads of each series' static features (static.encode)."""

    codes: torch.Tensor  # (B, G) int64 level of each categorical feature (and id), 0 unknown
    numbers: torch.Tensor  # (B, Z) float32 scaled numeric features

    def of(self, series: torch.Tensor | slice) -> Static:
        return Static(self.codes[series], self.numbers[series])


def static_inputs(codes: np.ndarray, numbers: np.ndarray, device: torch.device
                  ) -> Static | None:
    """Encoded static features (static.encode) on the device; None when there are none."""
    if not codes.shape[1] and not numbers.shape[1]:
        return None
    return Static(torch.from_numpy(codes).to(device), torch.from_numpy(numbers).to(device))


# share of training windows whose categories (and id) are read as unknown, so that the
# unknown level learns what a series the model never saw should read
UNKNOWN_SHARE = 0.1


def embedding_widths(cfg: FitConfig, dims: Dimensions) -> list[int]:
    """The width of each categorical static feature's embedding (about half its levels, at
    most 16), then the id embedding's (cfg.id_embedding)."""
    levels = list(dims.static_levels)
    ids = [levels.pop()] if cfg.id_embedding else []
    return [min(16, (n + 1) // 2) for n in levels] + [cfg.id_embedding for _ in ids]


def _embedding(levels: int, width: int) -> nn.Embedding:
    """nn.Embedding(levels, width), initialised as it initialises itself except on the meta
    device (integrity's shape check), where normal_ would import torch._dynamo: 1.2 s of
    every predict."""
    weight = torch.empty(levels, width)
    if not weight.is_meta:
        nn.init.normal_(weight)
    return nn.Embedding(levels, width, _weight=weight)


def _recurrent(cfg: FitConfig, n_inputs: int, bidirectional: bool) -> nn.Module:
    extra = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
    return CELLS[cfg.cell](input_size=n_inputs, hidden_size=cfg.hidden, num_layers=cfg.layers,
                           batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0,
                           bidirectional=bidirectional, **extra)


class Forecaster(nn.Module):
    """Window in, horizon out: forward(x (B, L, N), known (B, H, F + A)) -> (B, H, K, Q).
    The config must be settled (calendar.settle): its window and horizon size the network."""

    def __init__(self, cfg: FitConfig, dims: Dimensions) -> None:
        super().__init__()
        assert cfg.window is not None and cfg.horizon is not None and \
            cfg.baseline is not None, "settle the config first"
        window, horizon = cfg.window, cfg.horizon
        self.mode, self.cell, self.horizon, self.dims = cfg.mode, cfg.cell, horizon, dims
        self.baseline = cfg.baseline
        self.layers, self.directions = cfg.layers, 2 if cfg.bidirectional else 1
        widths = embedding_widths(cfg, dims)
        self.embeddings = nn.ModuleList(_embedding(levels, width) for levels, width
                                        in zip(dims.static_levels, widths))
        # the static features join the encoder's input at every step
        per_step = dims.n_inputs + sum(widths) + dims.n_static_numbers
        self.segment = cfg.segment or 1  # None: a config not settled for a frequency
        # segment-wise recurrence: P steps of inputs embedded as one encoder step
        self.segments = nn.Linear(self.segment * per_step, cfg.hidden) \
            if self.segment > 1 else None
        self.encoder = _recurrent(cfg, cfg.hidden if self.segments else per_step,
                                  cfg.bidirectional)
        self.dropout = nn.Dropout(cfg.dropout)
        width = self.directions * cfg.hidden
        outputs = dims.n_targets * dims.n_quantiles
        if cfg.mode == "many-to-one":  # the final state and the whole horizon's future features
            self.head = nn.Linear(width + horizon * dims.n_future, horizon * outputs)
        else:
            # a bidirectional encoder's two final states become one decoder state per layer
            self.bridge = nn.Linear(width, cfg.hidden) if cfg.bidirectional else None
            self.decoder = _recurrent(cfg, dims.n_targets + dims.n_known, False)
            self.head = nn.Linear(cfg.hidden, outputs)
        # the shortcut maps each target's L inputs to its H outputs, shared across targets
        self.highway = nn.Linear(window, horizon) if cfg.highway else None
        # the window step that seasonal naive repeats at each horizon step (the last value
        # when a season does not fit in the window); None: no baseline
        season = dims.season if dims.season <= window else 1
        self.register_buffer("repeated", torch.tensor(
            [window - season + step % season for step in range(horizon)])
            if cfg.baseline == "seasonal-naive" else None, persistent=False)
        if cfg.baseline != "none":  # start from the baseline itself: learn what it misses
            for layer in (self.head, self.highway):
                if layer is not None:
                    nn.init.zeros_(layer.weight)
                    nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, known: torch.Tensor | None = None,
                teacher: torch.Tensor | None = None, static: Static | None = None
                ) -> torch.Tensor:
        """x (B, L, N); known (B, H, F + A) the future steps' features and calendar; teacher
        (B, H, K) true targets fed to the decoder instead of its own outputs (training
        only); static, each series' static features, for a model that has them."""
        shortcut = self._shortcut(x)  # (B, H, K, 1)
        if static is not None and (len(self.embeddings) or self.dims.n_static_numbers):
            x = torch.cat([x, self._static(static).unsqueeze(1).expand(-1, x.shape[1], -1)],
                          dim=-1)  # (B, L, N + Z)
        _, state = self.encoder(self._segmented(x))  # h: (R * E, B, D), and c for LSTM
        if known is None:
            known = x.new_zeros(len(x), self.horizon, self.dims.n_known)
        if self.mode == "many-to-one":
            h = state[0] if self.cell == "lstm" else state
            last = h.view(self.layers, self.directions, *h.shape[1:])[-1]  # (E, B, D)
            summary = self.dropout(torch.cat(list(last), dim=-1))  # (B, E * D)
            if self.dims.n_future:  # (B, E * D + H * F)
                summary = torch.cat([summary, known[..., :self.dims.n_future].flatten(1)], -1)
            return self._ordered(self.head(summary).view(
                len(x), self.horizon, self.dims.n_targets, self.dims.n_quantiles) + shortcut)
        state = self._decoder_state(state)
        first = x[:, -1:, :self.dims.n_targets]  # (B, 1, K): the last observed targets
        if teacher is not None:  # every step's input is known: one call over the horizon
            previous = torch.cat([first, teacher[:, :-1]], dim=1)  # (B, H, K)
            out, _ = self.decoder(torch.cat([previous, known], dim=-1), state)
            return self._ordered(self._project(self.dropout(out)) + shortcut)
        return self.decode_stepwise(first, known, state, shortcut)

    def decode_stepwise(self, first: torch.Tensor, known: torch.Tensor,
                        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                        shortcut: torch.Tensor) -> torch.Tensor:
        """Free-running decoder: each step reads the previous step's point forecast."""
        previous, steps = first, []
        point = self.dims.point
        for h in range(self.horizon):
            step_in = torch.cat([previous, known[:, h:h + 1]], dim=-1)  # (B, 1, K + F + A)
            out, state = self.decoder(step_in, state)
            forecast = self._ordered(self._project(self.dropout(out))
                                     + shortcut[:, h:h + 1])  # (B, 1, K, Q)
            steps.append(forecast)
            previous = forecast[..., point]  # (B, 1, K)
        return torch.cat(steps, dim=1)  # (B, H, K, Q)

    def _segmented(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, C) -> (B, ceil(L / P), D): each segment of P steps through a linear layer
        and a ReLU, as SegRNN embeds them; the window is padded with zero steps at its start
        (their observed-step mask reads 0) to a multiple of P. Unchanged when P = 1."""
        if self.segments is None:
            return x
        pad = -x.shape[1] % self.segment
        x = nn.functional.pad(x, (0, 0, pad, 0))  # (B, L + pad, C)
        steps = x.reshape(len(x), -1, self.segment * x.shape[-1])  # (B, L', P * C)
        return torch.relu(self.segments(steps))

    def _static(self, static: Static) -> torch.Tensor:
        """(B, Z): the embeddings of the series' levels, then their numeric features."""
        codes = static.codes
        if self.training:
            forgotten = torch.rand(codes.shape, device=codes.device) < UNKNOWN_SHARE
            codes = codes.masked_fill(forgotten, 0)
        parts = [embed(codes[:, j]) for j, embed in enumerate(self.embeddings)]
        return torch.cat([*parts, static.numbers], dim=-1)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """What is added to the network's output, (B, H, K, 1): the highway's linear forecast
        from the window's targets, and the seasonal-naive baseline; 0 for what is off."""
        shortcut = x.new_zeros(1, self.horizon, 1, 1)  # broadcasts like (B, H, K, 1)
        if self.baseline == "theta":  # the mask is the encoder input's last channel
            shortcut = shortcut + theta.forecast(x[..., :self.dims.n_targets], x[..., -1],
                                                 self.horizon, self.dims.season).unsqueeze(-1)
        if self.repeated is not None:
            shortcut = shortcut + x[:, self.repeated, :self.dims.n_targets].unsqueeze(-1)
        if self.highway is None:
            return shortcut
        targets = x[..., :self.dims.n_targets].transpose(1, 2)  # (B, K, L)
        return shortcut + self.highway(targets).transpose(1, 2).unsqueeze(-1)

    def _decoder_state(self, state):
        def bridge(h: torch.Tensor) -> torch.Tensor:  # (R * E, B, D) -> (R, B, D)
            if self.bridge is None:
                return h
            per_layer = h.view(self.layers, self.directions, *h.shape[1:])  # (R, E, B, D)
            joined = torch.cat(list(per_layer.unbind(1)), dim=-1)  # (R, B, E * D)
            return torch.tanh(self.bridge(joined))

        if self.cell == "lstm":
            return bridge(state[0]).contiguous(), bridge(state[1]).contiguous()
        return bridge(state).contiguous()

    def _ordered(self, out: torch.Tensor) -> torch.Tensor:
        """Quantiles sorted along Q, so that they never cross (monotone rearrangement; the
        gradient flows through the sort)."""
        return out.sort(dim=-1).values if self.dims.n_quantiles > 1 else out

    def _project(self, out: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, K, Q)
        return self.head(out).view(*out.shape[:2], self.dims.n_targets, self.dims.n_quantiles)


class Ensemble(nn.Module):
    """M forecasters from different random starts, trained side by side on the same batches
    and combined by their median, which is robust to a member that trained badly.

    forward(...) -> (B, H, K, Q) the median; members(...) -> (M, B, H, K, Q) for training.
    """

    def __init__(self, cfg: FitConfig, dims: Dimensions) -> None:
        super().__init__()
        self.mode, self.dims, self.horizon = cfg.mode, dims, cfg.horizon
        self.nets = nn.ModuleList(Forecaster(cfg, dims) for _ in range(cfg.ensemble))

    def members(self, x: torch.Tensor, known: torch.Tensor | None = None,
                teacher: torch.Tensor | None = None, static: Static | None = None
                ) -> torch.Tensor:
        return torch.stack([member(x, known, teacher, static) for member in self.nets])

    def forward(self, x: torch.Tensor, known: torch.Tensor | None = None,
                teacher: torch.Tensor | None = None, static: Static | None = None
                ) -> torch.Tensor:
        every = self.members(x, known, teacher, static)  # (M, B, H, K, Q)
        if len(every) == 1:
            return every[0]
        # the median of sorted quantile vectors is sorted too, so quantiles still never cross
        ordered = every.sort(dim=0).values
        middle = len(every) // 2
        return ordered[middle] if len(every) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
