"""Which windows each batch of an epoch takes: a seeded draw of the training windows, and
with several processes each one's part of every batch: a slice of the same draw when every
process holds every window, or when each holds only its own series' windows
(--shard-series) a draw of its own windows in proportion to how many it holds."""

from __future__ import annotations

import numpy as np
import torch

from forecastr.training.distributed import Alone, Group


def draw(n_windows: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """(count,) window numbers in random order: each window once per pass, passes repeated
    when the data hold fewer windows than an epoch draws (small data still get a full
    epoch of optimizer steps between two validations)."""
    passes = -(-count // n_windows)
    return torch.cat([torch.randperm(n_windows, generator=generator)
                      for _ in range(passes)])[:count]


def epoch_order(n_windows: int, per_epoch: int, batch_size: int, generator: torch.Generator,
                group: Group | Alone, seed: int, epoch: int) -> torch.Tensor:
    """The windows (of this process's `n_windows`) an epoch draws, in order: from the run's
    `generator`, or when each process holds its own windows, its share of the epoch from a
    generator seeded by the run's seed, its rank and the epoch (so that a resumed run draws
    them again alike, and the run's generator stays the same on every process)."""
    if not group.sharded:
        return draw(n_windows, per_epoch, generator)
    count, _, _ = epoch_plan(group.held, group.rank, per_epoch, batch_size)
    entropy = np.random.SeedSequence([seed % 2**64, group.rank, epoch])
    own = torch.Generator().manual_seed(int(entropy.generate_state(1)[0]))
    return draw(n_windows, count, own) if count else torch.zeros(0, dtype=torch.int64)


def epoch_batches(order: torch.Tensor, per_epoch: int, batch_size: int,
                  group: Group | Alone) -> tuple[tuple[torch.Tensor, ...], list[int]]:
    """An epoch's `order` cut into batches, and each batch's size over all processes; with
    each process holding its own windows, a batch is this process's part of it."""
    if not group.sharded:
        batches = order.split(batch_size)
        return batches, [len(chosen) for chosen in batches]
    _, parts, sizes = epoch_plan(group.held, group.rank, per_epoch, batch_size)
    return order.split(parts.tolist()), sizes.tolist()


def epoch_plan(held: tuple[int, ...], rank: int, per_epoch: int, batch_size: int
               ) -> tuple[int, np.ndarray, np.ndarray]:
    """How the `per_epoch` windows of an epoch are drawn when each rank holds only its own
    (`held` windows each): each rank draws in proportion to what it holds (every window once
    when `per_epoch` is them all), spread evenly over the epoch's batches. Returns the
    windows this rank draws, its part of each batch (B,), and each batch's size over all
    ranks (B,), within `len(held)` of `batch_size` and at least 1 when
    `batch_size` >= `len(held)`."""
    shares = apportion(per_epoch, held)
    ends = np.minimum(np.arange(-(-per_epoch // batch_size) + 1) * batch_size, per_epoch)
    # rank r has drawn share * ends[k] // per_epoch windows by the end of batch k: its
    # share, exactly, by the end of the epoch (integer arithmetic: alike on every rank)
    parts = [np.diff(share * ends // per_epoch) for share in shares]
    return shares[rank], parts[rank], np.sum(parts, axis=0)


def apportion(total: int, weights: tuple[int, ...]) -> list[int]:
    """`total` split in proportion to `weights` by largest remainders (ties to the lower
    rank): whole numbers that add up to `total`."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda r: (-(total * weights[r] % whole), r))
    for r in by_remainder[:total - sum(shares)]:
        shares[r] += 1
    return shares
