"""Training one model on several processes: PyTorch's launcher (torchrun, or `fit --nproc`)
starts them and says who is who in the environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT); the gradients are averaged by DistributedDataParallel, over gloo on the CPU and
NCCL on CUDA. Every rank draws the same windows for a batch from the same seeded generator
and takes its own share of them; what the ranks must decide alike (the training loss, a stop
asked by a signal on any rank, the time budget, the validation loss) goes through one
all-reduce, so that they stop at the same batch and never wait on each other forever."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from forecastr.errors import ConfigError, PeerFailed

# how long a rank waits for the others in a collective before the run fails with an error
# (one that died, a network that broke) instead of hanging
TIMEOUT_SECONDS = float(os.environ.get("FORECASTR_DIST_TIMEOUT", 300))
SIGNALS = (signal.SIGTERM, signal.SIGINT, *[signal.SIGHUP] * hasattr(signal, "SIGHUP"))
_joined = False  # this process joined the group itself (start), and so leaves it (finish)


@dataclass(frozen=True)
class Group:
    """This process's place among the ranks training one model."""

    rank: int
    world: int
    local_rank: int
    # the training windows of each rank when each holds only its own series
    # (--shard-series); None when every rank holds them all
    held: tuple[int, ...] | None = None
    val_windows: int = 0  # the validation windows of all ranks, when each holds its own

    alone = False  # see Alone

    @property
    def main(self) -> bool:
        """The rank that shows progress and writes the model file and checkpoints."""
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        return self.held is not None

    def share(self, chosen: torch.Tensor, size: int) -> tuple[torch.Tensor, float]:
        """This rank's part of a batch of `size` windows over all ranks, and the weight of
        its mean loss that makes the ranks' averaged gradient the whole batch's. `chosen`:
        the whole batch, of which each rank takes a slice (parts differ by one window at
        most), or when sharded this rank's own part already. A rank left without a window
        computes on one with weight 0."""
        part = chosen if self.sharded else chosen.tensor_split(self.world)[self.rank]
        if not len(part):
            return chosen.new_zeros(1), 0.0
        return part, len(part) * self.world / size

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value` (picklable), in rank order, on every rank."""
        values: list[Any] = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def agree(self, signum: int | None, time_up: bool, loss_sum: torch.Tensor
              ) -> tuple[int | None, bool, torch.Tensor]:
        """After a batch, what every rank must know alike: the signal any rank was sent (the
        gravest), whether any rank ran out of time, and the summed loss of the batch."""
        flags = [float(signum == s) for s in SIGNALS]
        message = torch.tensor([*flags, float(time_up), float(loss_sum)], dtype=torch.float64,
                               device=loss_sum.device)
        dist.all_reduce(message)
        sent = next((s for s, n in zip(SIGNALS, message[:len(SIGNALS)].tolist()) if n), None)
        return (int(sent) if sent is not None else None, bool(message[len(SIGNALS)] > 0),
                message[-1].to(loss_sum.dtype))

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of `value` over the ranks."""
        value = value.detach().clone()
        dist.all_reduce(value)
        return value

    def latest(self, seconds: float) -> float:
        """The largest of the ranks' `seconds` (time spent), so that time bounds agree."""
        value = torch.tensor([seconds], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            value = value.cuda()
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return float(value)

    def wait(self) -> None:
        dist.barrier()

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """`module` under DistributedDataParallel, which averages its gradients over the
        ranks in backward."""
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=False)  # every parameter takes part in every batch


class Alone:
    """This process training a model by itself: a Group's methods, which here have no one to
    share with or wait for, so that training reads the same for one process or many."""

    alone = True
    rank, world, local_rank, main, sharded = 0, 1, 0, True, False
    held: tuple[int, ...] | None = None
    val_windows = 0

    def share(self, chosen: torch.Tensor, size: int) -> tuple[torch.Tensor, float]:
        return chosen, 1.0  # the whole batch, at its own weight

    def gather(self, value: Any) -> list[Any]:
        return [value]

    def agree(self, signum: int | None, time_up: bool, loss_sum: torch.Tensor
              ) -> tuple[int | None, bool, torch.Tensor]:
        return signum, time_up, loss_sum

    def total(self, value: torch.Tensor) -> torch.Tensor:
        return value

    def latest(self, seconds: float) -> float:
        return seconds

    def wait(self) -> None:
        pass

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        return module


ALONE = Alone()


def with_every_ranks_random(state: dict[str, Any], group: Group) -> dict[str, Any]:
    """A training snapshot (resume.snapshot, rank 0's) with every rank's random states
    beside it, so that a resumed run draws each rank's dropout masks as it would have."""
    return {**state, "ranks_random": group.gather(state["random"])}


def own_random(state: dict[str, Any], group: Group) -> dict[str, Any]:
    """A snapshot as this rank resumes it: with its own random states, when they were
    saved (a checkpoint of an older forecastr holds rank 0's only)."""
    ranks = state.get("ranks_random")
    if not isinstance(ranks, list) or len(ranks) != group.world \
            or not isinstance(ranks[group.rank], dict):
        return state
    return {**state, "random": ranks[group.rank]}


def from_environment() -> Group | Alone:
    """The group this process belongs to when a launcher started several, else Alone."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return ALONE
    try:
        return Group(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", 0)))
    except (KeyError, ValueError):
        raise ConfigError("WORLD_SIZE is set but RANK is not: start distributed training with "
                          "torchrun or fit --nproc") from None


def start(group: Group | Alone, device: torch.device) -> torch.device:
    """Join the process group (NCCL for CUDA, gloo otherwise); the device this rank trains
    on (its own GPU: cuda:LOCAL_RANK). Alone, there is nothing to join."""
    if group.alone:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(device)
    global _joined
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(seconds=TIMEOUT_SECONDS))
        _joined = True
    return device


@contextlib.contextmanager
def peers_watched(group: Group | Alone) -> Iterator[None]:
    """A collective that fails because another rank died (its connection reset, the group's
    timeout reached) is a one-line PeerFailed, not an internal error."""
    try:
        yield
    except RuntimeError as exc:
        if group.alone or not isinstance(exc, dist.DistError) and not re.search(
                r"gloo|nccl|connection|timed? ?out", str(exc), re.IGNORECASE):
            raise
        # "[.../pair.cc:537] Read error [127.0.0.1]:9101: Connection reset by peer. This..."
        detail = re.sub(r"^\[[^\]]*\]\s*", "", " ".join(str(exc).split())).split(". ")[0]
        raise PeerFailed(f"rank {group.rank}: another process of this distributed run failed "
                         f"or went away ({detail[:200]}); its own message, if it could give "
                         f"one, is above") from None


def finish() -> None:
    """Leave the process group that `start` joined (one the caller set up is the caller's
    to leave)."""
    global _joined
    if _joined and dist.is_initialized():
        dist.destroy_process_group()
    _joined = False


class Members(torch.nn.Module):
    """An Ensemble's training forward (every member's output) as a module's forward, which
    DistributedDataParallel hooks."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Any) -> torch.Tensor:
        return self.model.members(*inputs)
