"""Several processes under `torchrun`: process group, rank-0 writes, metric all-reduce."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from reference_loop.device import choose_device


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # we created the process group, so we destroy it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def setup(device_spec: str = "auto") -> Dist:
    """Join the process group torchrun prepared (nccl on CUDA, gloo elsewhere), or run alone."""
    if not launched_by_torchrun() and not (dist.is_available() and dist.is_initialized()):
        return Dist(device=choose_device(device_spec))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(device_spec)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        # DDP imports torch.distributed.nn, whose functions take `group=group.WORLD` as a
        # default argument. Imported after the group exists, those defaults keep it alive
        # past destroy_process_group, so its gloo worker threads outlive the run and can
        # abort the process at interpreter exit. Imported first, the defaults hold None.
        importlib.import_module("torch.distributed.nn")
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Dist(dist.get_rank(), dist.get_world_size(), device, owns)


def teardown(d: Dist) -> None:
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, d: Dist) -> torch.Tensor:
    """Sum a tensor of metric totals over ranks (identity when alone)."""
    if d.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def gather_objects(obj: Any, d: Dist) -> list[Any]:
    """Every rank's `obj` (picklable), in rank order, on every rank ([obj] when alone)."""
    if not d.enabled:
        return [obj]
    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(flag: bool, d: Dist) -> bool:
    """Rank 0's decision (early stopping) for everyone, so no rank waits forever."""
    if not d.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], device=d.device)
    dist.broadcast(t, src=0)
    return bool(t.item())


class ShardSampler(Sampler[int]):
    """Evaluation shard of one rank: every sample exactly once over all ranks, in order.

    DistributedSampler pads the last shard with repeated samples so that ranks stay in
    step; that is needed for training (every backward is a collective) but it would
    count a few samples twice in a metric. Evaluation forwards are independent, so the
    shards may differ by one sample.
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def is_main_process() -> bool:
    """Rank 0, or alone; readable after the process group is gone (torchrun's RANK)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0
