"""Seeded synthetic panels for the benchmarks: fixed shapes, nothing downloaded.

Every series has its own level, trend, daily and weekly season and noise, so that the reader,
the scaler and the model see data shaped like the real thing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def panel_values(series: int, length: int, seed: int = 0) -> np.ndarray:
    """(series, length) float64 values: level + trend + two seasons + noise."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    level = rng.uniform(10, 1000, (series, 1))
    trend = rng.normal(0, 2e-4, (series, 1)) * level * steps
    daily = rng.uniform(0.05, 0.3, (series, 1)) * level * np.sin(
        2 * np.pi * steps / 24 + rng.uniform(0, 2 * np.pi, (series, 1)))
    weekly = rng.uniform(0.02, 0.1, (series, 1)) * level * np.sin(2 * np.pi * steps / 168)
    return level + trend + daily + weekly + rng.normal(0, 0.03, (series, length)) * level


def long_frame(series: int, length: int, seed: int = 0, freq: str = "h") -> pd.DataFrame:
    """`unique_id, ds, y`, one block of rows per series."""
    values = panel_values(series, length, seed)
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{s:06d}" for s in range(series)], length),
        "ds": np.tile(pd.date_range("2020-01-01", periods=length, freq=freq), series),
        "y": values.reshape(-1).round(3)})


def write_long_csv(path: Path, series: int, length: int, seed: int = 0,
                   freq: str = "h") -> Path:
    """Write the panel once; later runs reuse the file (same seed, same bytes)."""
    if not path.exists():
        temporary = path.with_suffix(".partial")
        long_frame(series, length, seed, freq).to_csv(temporary, index=False)
        temporary.rename(path)
    return path


def write_many_series_csv(path: Path, series: int, length: int, seed: int = 0,
                          block: int = 50_000) -> Path:
    """`unique_id, ds, y` hourly, grouped by id, written `block` series at a time (each block
    its own seed) so that a million series never sit in memory at once."""
    if not path.exists():
        temporary = path.with_suffix(".partial")
        with open(temporary, "w", encoding="utf-8") as stream:
            for first in range(0, series, block):
                count = min(block, series - first)
                frame = long_frame(count, length, seed + first // block)
                frame["unique_id"] = np.repeat([f"s{s:07d}" for s in range(first, first + count)],
                                               length)
                frame.to_csv(stream, index=False, header=first == 0)
        temporary.rename(path)
    return path


def write_single_csv(path: Path, length: int, seed: int = 0) -> Path:
    """One long hourly series: `ds, y`."""
    if not path.exists():
        frame = long_frame(1, length, seed).drop(columns="unique_id")
        temporary = path.with_suffix(".partial")
        frame.to_csv(temporary, index=False)
        temporary.rename(path)
    return path
