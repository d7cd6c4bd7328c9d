"""What a model file holds, typed (Artifact): the settled config, the data's schema, the
network's dimensions and weights, the scaling, the series seen, and the training record.
Its own module, so that the checks on it (integrity.py) and the file's reading and writing
(artifact.py) both use it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from forecastr.config import FitConfig
from forecastr.data.panel import Schema
from forecastr.network.model import Dimensions
from forecastr.network.scaling import ScaleStats
from forecastr.network.static import StaticStats


@dataclass(frozen=True)
class Artifact:
    """Everything a model file holds, typed again after loading."""

    config: FitConfig  # settled: window, horizon, calendar and highway are set
    schema: Schema
    dimensions: Dimensions
    calendar: tuple[str, ...]  # calendar feature names, in channel order
    scaling: ScaleStats
    series: dict[str, Any]  # ids (S,) and last_times (S,) seen in training
    state_dict: dict[str, torch.Tensor]
    training: dict[str, Any]  # summary: epochs, best epoch and loss, seconds, device, ...
    versions: dict[str, str]
    # conformal interval half-widths in the model's scaled units: widths (S, J, H, K) per
    # training series and level, pooled (J, H, K) for series the model never saw
    conformal: dict[str, np.ndarray] | None = None
    static: StaticStats | None = None  # what fit learnt of the static features

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def starting_point(self) -> dict[str, Any]:
        """The model's baseline and whether training beat it on validation (`kept`:
        "network", "baseline", or None where the file does not say: no baseline, no
        validation windows, or a file older than the record), with both validation losses."""
        start = self.training.get("baseline_loss")
        kept = None if start is None else "baseline" if self.training.get("best_epoch") == 0 \
            else "network"
        return {"baseline": self.config.baseline, "kept": kept, "baseline_loss": start,
                "best_loss": self.training.get("best_loss")}
