"""Which shard a series belongs to, for fanning one prediction out over n machines or cron
jobs: `--shard i/n` keeps the series whose id hashes to shard i. The hash is BLAKE2b of the
id's UTF-8 bytes, the same on every machine, Python version and process (Python's own hash()
of a string changes with each process), so the n outputs together hold every series once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from forecastr.errors import ConfigError, DataError

SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
# why a file read shard by shard (fit --shard-series) needs a series id column
BY_ID = "--shard-series splits the series among the processes by id, so DATA must be in the " \
    "long layout"


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1 to `count`) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, series_id: str) -> bool:
        return shard_of(series_id, self.count) == self.index

    def keep(self, ids: Iterable[str]) -> list[bool]:
        return [self.holds(i) for i in ids]


def parse(text: str) -> Shard:
    """'2/8' -> Shard(2, 8); numbered from 1, like split -n l/K/N."""
    match = SPEC.fullmatch(text)
    if not match:
        raise ConfigError(f"--shard must be I/N, e.g. 1/4 for the first of four shards; got "
                          f"{text!r}")
    index, count = int(match[1]), int(match[2])
    if not 1 <= index <= count:
        raise ConfigError(f"--shard {text}: the shard must be between 1 and the count ({count})"
                          if count else f"--shard {text}: the count must be at least 1")
    return Shard(index, count)


def shard_of(series_id: str, count: int) -> int:
    """The shard (1 to `count`) a series id belongs to."""
    digest = hashlib.blake2b(series_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1


def nothing_held(name: str, n_series: int, shard: Shard) -> DataError:
    """The error for a file none of whose series falls to `shard`."""
    return DataError(f"{name}: none of its {n_series:,} series falls to process {shard.index} "
                     f"of {shard.count} (--shard-series gives each process the series whose "
                     f"id hashes to it); use fewer processes")
