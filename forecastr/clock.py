"""Seconds spent in each phase of a command (reading, windows, training, ...), for
--verbose and the benchmarks."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass


@dataclass
class Clock:
    """Seconds spent in each phase of a command, for --verbose and the benchmarks."""

    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    last: float = dataclasses.field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{phase} {seconds:.3f} s" for phase, seconds in self.seconds.items())
