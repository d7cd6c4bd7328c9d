"""Shared test helpers: the CLI runner (stdout and stderr kept apart), small seeded panels
written as CSV, and the path of the bundled sample data."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from forecastr.cli.commands import main

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: list[str], input: str | bytes | None = None) -> CliResult:
    """Run `forecastr ARGS` through cli.main, the real entry point with its exit mapping."""
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            logger = logging.getLogger("forecastr")
            logger.handlers.clear()  # the handler points at the runner's old stderr
            logger.propagate = True  # so that caplog sees later tests' records
    return CliResult(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write CSV text to a file in the test's temporary folder and return its path."""

    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def seasonal_frame(n_series: int = 3, length: int = 60, period: int = 12, seed: int = 0,
                   freq: str = "MS") -> pd.DataFrame:
    """Long-format panel `unique_id, ds, y`: sine season + trend + noise, seeded."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_series):
        steps = np.arange(length)
        y = (10 + s + 0.05 * steps + 2 * np.sin(2 * np.pi * steps / period + s)
             + 0.1 * rng.standard_normal(length))
        frames.append(pd.DataFrame({"unique_id": f"s{s}",
                                    "ds": pd.date_range("2000-01-01", periods=length, freq=freq),
                                    "y": y.round(4)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "long.csv"
    seasonal_frame().to_csv(path, index=False)
    return path


def pytest_configure(config: pytest.Config) -> None:
    # Tests that call torch themselves compute with one thread, as forecastr's commands do
    # by default: a second thread only waits for a busy core on a shared machine.
    import torch

    torch.set_num_threads(1)
