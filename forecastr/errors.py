"""forecastr's exception types and the exit status each one maps to in the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class ForecastrError(Exception):
    """Base of every error forecastr raises on purpose; the message is one line for the user."""

    exit_code = 1


class DataError(ForecastrError):
    """The input data cannot be used: unreadable, malformed, or too short. `fit_option` is
    the fit option the message suggests (such as "--freq"), if any: reading for a model,
    whose options are fixed, says so instead."""

    exit_code = 2

    def __init__(self, message: str, fit_option: str | None = None) -> None:
        super().__init__(message)
        self.fit_option = fit_option


class UnknownFrequency(DataError):
    """No regular frequency can be inferred from the timestamps."""


class ConfigError(ForecastrError):
    """A configuration value (flag or YAML key) is missing, unknown or out of range."""

    exit_code = 2


class ModelFileError(ForecastrError):
    """A model file cannot be loaded: truncated, corrupt, foreign or from a newer format."""

    exit_code = 2


class DeviceError(ForecastrError):
    """The requested compute device is not available on this machine."""

    exit_code = 2


class OutputError(ForecastrError):
    """An output path cannot be written: missing folder, no permission, disk full."""

    exit_code = 2


class PeerFailed(ForecastrError):
    """Another process of a distributed run failed or went away (exit status 1)."""


class Interrupted(ForecastrError):
    """Training was stopped on request (Ctrl-C, SIGTERM) after a batch; `checkpoint` is where
    its state was written, or None when there was nowhere to write it."""

    exit_code = 130

    def __init__(self, message: str, checkpoint: str | None = None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


class OutOfMemory(ForecastrError):
    """The machine ran out of memory; the message says doing what, and how large it was."""


@contextlib.contextmanager
def out_of_memory(what: str, advice: str) -> Iterator[None]:
    """Turn running out of memory inside the block into one line: 'out of memory while
    {what}; {advice}'."""
    try:
        yield
    except MemoryError:
        raise OutOfMemory(f"out of memory while {what}; {advice}") from None
    except RuntimeError as exc:
        # torch has no error type of its own for a failed CPU allocation, only this text
        # (and OutOfMemoryError, a RuntimeError, on CUDA)
        if type(exc).__name__ != "OutOfMemoryError" and "can't allocate memory" not in str(exc):
            raise
        raise OutOfMemory(f"out of memory while {what}; {advice}") from None
