"""Training on a panel whose series are split among the processes (`fit --shard-series`):
each process reads only the series whose id hashes to it, and what one model needs of the
whole panel is gathered from them: the time axis they must agree on, the static features'
levels and the ids an embedding learns, each one's training windows, and for the model file
every series' record, scaling and conformal widths. Rank 0 says every process's warnings."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import logging.handlers
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from forecastr.data.panel import Panel, Schema
from forecastr.errors import ConfigError, DataError
from forecastr.network.scaling import ScaleStats
from forecastr.network.static import StaticStats, fit_values
from forecastr.network.windows import Split
from forecastr.training.distributed import Alone, Group

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PanelShares:
    """What the processes told each other of their series before cutting windows."""

    series: tuple[int, ...]  # how many series each process holds
    static: StaticStats | None  # the static features learnt from every series
    rank: int
    dayfirst: bool | None = None  # the order of dates such as 01/02/2020 in every series

    @property
    def first(self) -> int:
        """This process's first series in the whole panel's order (process by process)."""
        return sum(self.series[:self.rank])

    @property
    def total(self) -> int:
        return sum(self.series)


@dataclass(frozen=True)
class AllSeries:
    """What the training loop and the model file need of every process's series."""

    held: tuple[int, ...]  # training windows of each process
    val_windows: int  # of all processes
    series: dict[str, list]  # every series' record (ids, last times, lengths), in order
    scaling: ScaleStats  # of every series, in the same order
    digest: str  # of every process's training data, for checkpoints
    padded: int
    skipped: tuple[str, ...]


def agree_on_panel(panel: Panel, group: Group) -> PanelShares:
    """Exchange what cutting windows depends on: the schemas, which must agree (the time
    axis above all), each process's number of series and its static features."""
    told = group.gather((panel.schema, panel.n_series,
                         {name: panel.static[name] for name in panel.schema.static_features},
                         panel.dayfirst))
    _check_agreement([schema for schema, *_ in told], panel.source)
    names = panel.schema.static_features
    static = fit_values({name: np.concatenate([values[name] for _, _, values, _ in told])
                         for name in names}, names) if names else None
    return PanelShares(tuple(count for _, count, *_ in told), static, group.rank,
                 _day_order([order for *_, order in told], panel.source))


def _day_order(orders: list[bool | None], source: str) -> bool | None:
    """The one order in which every process read dates such as 01/02/2020 (None where none
    has such dates). Each decided on its own series: where those of one show no day above
    12, it may have chosen the other order, and its times would be wrong."""
    decided = {order for order in orders if order is not None}
    if len(decided) > 1:
        first = {order: orders.index(order) for order in decided}
        raise DataError(f"{source}: the processes read dates such as 01/02/2020 in different "
                        f"orders (day first on rank {first[True]}, month first on rank "
                        f"{first[False]}: its series show no day above 12); pass --dayfirst "
                        f"or --no-dayfirst", fit_option="--dayfirst")
    return decided.pop() if decided else None


def _check_agreement(schemas: list[Schema], source: str) -> None:
    for field in dataclasses.fields(Schema):
        seen = [getattr(schema, field.name) for schema in schemas]
        differs = next((r for r, value in enumerate(seen) if value != seen[0]), None)
        if differs is not None:
            hint = "give --freq" if field.name == "freq" else "fit without --shard-series"
            raise DataError(f"{source}: the processes' series disagree on their "
                            f"{field.name.replace('_', ' ')}: {seen[0]!r} on rank 0, "
                            f"{seen[differs]!r} on rank {differs}; {hint}")


def gather_all_series(split: Split, stats: ScaleStats, record: dict[str, list], digest: str,
            group: Group, batch_size: int, source: str) -> AllSeries:
    """Gather what the loop and the model file need of every process's series; refuse a
    run in which some process has no window to train on."""
    told = group.gather({"train": len(split.train), "val": len(split.val), "record": record,
                         "loc": stats.loc, "scale": stats.scale, "digest": digest,
                         "padded": len(split.padded), "skipped": split.skipped})
    held = tuple(theirs["train"] for theirs in told)
    if idle := [r for r, n in enumerate(held) if not n]:
        raise DataError(f"{source}: process {idle[0]} of {group.world} has no series long "
                        f"enough for a training window (--shard-series gives each process the "
                        f"series whose id hashes to it); use fewer processes, or a shorter "
                        f"--window and --horizon")
    if batch_size < group.world:
        raise ConfigError(f"--batch-size {batch_size} is smaller than the {group.world} "
                          f"processes; with --shard-series every batch needs a window from "
                          f"each process: give at least {group.world}")

    return AllSeries(
        held=held, val_windows=sum(theirs["val"] for theirs in told),
        series={key: [item for theirs in told for item in theirs["record"][key]]
                for key in record},
        scaling=dataclasses.replace(stats, loc=np.concatenate([t["loc"] for t in told]),
                                    scale=np.concatenate([t["scale"] for t in told])),
        digest=hashlib.sha256("".join(t["digest"] for t in told).encode()).hexdigest(),
        padded=sum(theirs["padded"] for theirs in told),
        skipped=tuple(series_id for theirs in told for series_id in theirs["skipped"]))


def gather_residuals(errors: np.ndarray, series: np.ndarray, first: int, group: Group
              ) -> tuple[np.ndarray, np.ndarray]:
    """Every process's validation errors (N, H, K) and their series in the whole panel's
    numbering, for conformal widths calibrated on all of them."""
    told = group.gather((errors, series + first))
    return np.concatenate([e for e, _ in told]), np.concatenate([s for _, s in told])


@contextlib.contextmanager
def held_warnings(group: Group | Alone) -> Iterator[list[tuple[int, str]]]:
    """Within, the warnings of a process that holds only its own series are kept (as
    (level, message)) rather than shown: `log_held_warnings` has rank 0 say every process's, once.
    Alone, nothing is held. Should an error end it, what was held is shown."""
    notes: list[tuple[int, str]] = []
    if group.alone:
        yield notes
        return
    logger = logging.getLogger("forecastr")
    handlers, level = logger.handlers[:], logger.level
    held = logging.handlers.BufferingHandler(capacity=2**62)  # never flushes by itself
    logger.handlers = [held]
    shown = logger.getEffectiveLevel()
    logger.setLevel(min(shown, logging.WARNING))
    try:
        yield notes
    except BaseException:
        logger.handlers, logger.level = handlers, level
        for record in held.buffer:  # as they would have been shown
            if record.levelno >= shown:
                logger.handle(record)
        raise
    finally:
        logger.handlers, logger.level = handlers, level
    notes += [(record.levelno, record.getMessage()) for record in held.buffer]


def log_held_warnings(notes: list[tuple[int, str]], group: Group) -> None:
    """Rank 0 logs every process's held warnings, the others' with their rank."""
    for rank, theirs in enumerate(group.gather(notes)):
        if group.main:
            for level, message in theirs:
                log.log(level, "%s%s", f"[rank {rank}] " if rank else "", message)
