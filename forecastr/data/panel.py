"""Panel and Schema: a set of series held as one contiguous array with CSR-style boundaries.

Series s occupies rows `indptr[s]:indptr[s + 1]` of `values` (targets first, then features,
then future-known features)
and of `times`. Numpy only, so everything above it can share one copy of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Layout = Literal["single", "wide", "long"]
TimeKind = Literal["datetime", "integer", "none"]


# characters of a series id a message shows: an id may be a whole line of text (1 MB, once)
ID_SHOWN = 40


def shown_id(series_id: object) -> str:
    """A series id as a message shows it: its repr, cut short past ID_SHOWN characters."""
    text = repr(series_id)
    return text if len(text) <= ID_SHOWN else f"{text[:ID_SHOWN - 3]}...'"


@dataclass(frozen=True)
class Schema:
    """What a CSV looked like, so that forecasts can be written back in the same shape."""

    layout: Layout
    time_col: str | None
    time_kind: TimeKind
    freq: str | None  # pandas offset alias when time_kind == "datetime"
    step: int  # distance between integer time steps when time_kind != "datetime"
    tz: str | None  # the single time zone of the input, restored on output
    id_col: str | None  # long layout only
    targets: tuple[str, ...]  # CSV columns forecast: one series each (wide) or channels (long)
    features: tuple[str, ...]  # CSV columns used as inputs only (past covariates)
    # names of the columns of Panel.values: targets, features, then future_features
    channels: tuple[str, ...]
    future_features: tuple[str, ...] = ()  # inputs known for the forecast steps too
    static_features: tuple[str, ...] = ()  # columns holding one value per series (long files)

    @property
    def n_targets(self) -> int:
        """Target channels per series: 1 for single/wide, len(targets) for long."""
        return len(self.channels) - len(self.features) - len(self.future_features)

    @property
    def future_from(self) -> int:
        """The first channel of the future-known features (they are the last channels)."""
        return len(self.channels) - len(self.future_features)


@dataclass(frozen=True)
class Panel:
    """Series side by side: values (T_total, C) float64 as read (the model's float32 inputs
    are made from them), times (T_total,), boundaries indptr."""

    values: np.ndarray  # (T_total, C) float64
    times: np.ndarray  # (T_total,) datetime64[ns] or int64
    indptr: np.ndarray  # (S + 1,) int64
    ids: tuple[str, ...]  # (S,)
    schema: Schema
    filled: np.ndarray  # (S,) int64: points filled by the gap policy, per series
    source: str  # the file name (or "<stdin>") for messages
    empty: tuple[str, ...] = ()  # series of the file that had no values and were left out
    # static feature -> (S,) object array: each series' value as written, None where empty
    static: dict[str, np.ndarray] = field(default_factory=dict)
    # the order dates such as 01/02/2020 were read in (times.Parsed.dayfirst), which a model
    # fitted on the panel records, so that predict reads every file and chunk alike
    dayfirst: bool | None = None

    def __post_init__(self) -> None:
        assert self.values.ndim == 2 and self.values.dtype == np.float64
        assert self.values.shape[1] == len(self.schema.channels)
        assert len(self.times) == len(self.values) == self.indptr[-1]
        assert len(self.ids) == len(self.indptr) - 1 == len(self.filled)

    @property
    def n_series(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """(S,) int64: number of time steps of each series."""
        return np.diff(self.indptr)

    def series(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Values (T_s, C) and times (T_s,) of series number s, as views."""
        lo, hi = self.indptr[s], self.indptr[s + 1]
        return self.values[lo:hi], self.times[lo:hi]


# CSR arithmetic: blocks of rows, block i holding lengths[i] of them, one after another

def row_owners(lengths: np.ndarray) -> np.ndarray:
    """(sum(lengths),) int64: the block each row belongs to."""
    return np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)


def row_offsets(lengths: np.ndarray) -> np.ndarray:
    """(sum(lengths),) int64: each row's position within its block."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(lengths.sum(), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths,
                                                                lengths)


def run_starts(values) -> np.ndarray:
    """(R,) int64: the rows where a run of equal values begins, row 0 the first (none when
    there are no rows). Compared side by side, not by np.diff: no array of differences."""
    changes = np.asarray(values[1:] != values[:-1], dtype=bool)
    return np.flatnonzero(np.r_[len(values) > 0, changes])


def row_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated row ranges starts[i] : starts[i] + lengths[i], without a Python loop."""
    return np.repeat(starts, lengths) + row_offsets(lengths)


def empty_like(schema: Schema, source: str = "") -> Panel:
    """A panel of no series, in `schema`'s shape."""
    kind = "datetime64[ns]" if schema.time_kind == "datetime" else np.int64
    return Panel(values=np.zeros((0, len(schema.channels))), times=np.zeros(0, kind),
                 indptr=np.zeros(1, np.int64), ids=(), schema=schema,
                 filled=np.zeros(0, np.int64), source=source)


def select(panel: Panel, keep: np.ndarray) -> Panel:
    """The series numbered `keep`, whole, as a new panel."""
    lengths = panel.lengths[keep]
    rows = row_ranges(panel.indptr[keep], lengths)
    return Panel(values=panel.values[rows], times=panel.times[rows],
                 indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64),
                 ids=tuple(panel.ids[i] for i in keep), schema=panel.schema,
                 filled=panel.filled[keep], source=panel.source,
                 static={name: values[keep] for name, values in panel.static.items()})


def truncate(panel: Panel, lengths: np.ndarray) -> Panel:
    """Each series cut to its first `lengths[s]` rows (1 <= lengths[s] <= its length)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    rows = row_ranges(panel.indptr[:-1], lengths)
    return Panel(values=panel.values[rows], times=panel.times[rows],
                 indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64), ids=panel.ids,
                 schema=panel.schema, filled=panel.filled, source=panel.source,
                 static=panel.static)


def tail(panel: Panel, length: int) -> Panel:
    """Each series cut to its last `length` rows (all of them when it is shorter)."""
    lengths = np.minimum(panel.lengths, length)
    rows = row_ranges(panel.indptr[1:] - lengths, lengths)
    return Panel(values=panel.values[rows], times=panel.times[rows],
                 indptr=np.r_[0, np.cumsum(lengths)].astype(np.int64), ids=panel.ids,
                 schema=panel.schema, filled=panel.filled, source=panel.source,
                 static=panel.static)


def has_clock_times(times: np.ndarray) -> bool:
    """True when some timestamp is not at midnight, so times of day must be shown."""
    return times.dtype.kind == "M" and bool((times != times.astype("datetime64[D]")).any())


def time_text(value: np.generic, clock: bool) -> str | int:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s" if clock else "D")).replace("T", " ")
    return int(value)
