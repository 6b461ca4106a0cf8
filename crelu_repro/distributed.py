"""torchrun / DistributedDataParallel plumbing. Without torchrun everything degrades to one process."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import ConfigError


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def env_rank() -> int:
    """This process's rank as torchrun announces it (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def init(device_kind: str) -> Dist:
    """Join the process group torchrun set up: NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    if device_kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device=cuda under torchrun, but CUDA is not available")
    backend = "nccl" if device_kind == "cuda" else "gloo"
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    # A bounded timeout: if a peer dies, collectives fail instead of hanging forever.
    timeout = datetime.timedelta(seconds=float(os.environ.get("CRELU_DIST_TIMEOUT_S", "600")))
    dist.init_process_group(backend, timeout=timeout)
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank)


def broadcast_object(obj, ctx: Dist):
    """Rank 0's `obj` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_sum(t: torch.Tensor, ctx: Dist) -> torch.Tensor:
    if ctx.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_max(t: torch.Tensor, ctx: Dist) -> torch.Tensor:
    if ctx.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def gather_rows(local: torch.Tensor, ctx: Dist) -> torch.Tensor:
    """Concatenate each rank's (n_r, ...) rows in rank order (n_r may differ by one)."""
    if not ctx.enabled:
        return local
    sizes = [torch.zeros(1, dtype=torch.long, device=local.device) for _ in range(ctx.world)]
    dist.all_gather(sizes, torch.tensor([local.shape[0]], device=local.device))
    biggest = int(max(s.item() for s in sizes))
    padded = torch.zeros((biggest, *local.shape[1:]), dtype=local.dtype, device=local.device)
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(ctx.world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])


def barrier(ctx: Dist) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: Dist) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
