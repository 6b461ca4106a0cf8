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
    cpu_group: object = None  # a gloo group for host-side agreement (the stop flag), beside NCCL's

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def env_rank() -> int:
    """This process's rank as torchrun announces it (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def env_world() -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init(device_kind: str) -> Dist:
    """Join the process group torchrun set up: NCCL on CUDA, gloo on CPU."""
    world = env_world()
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
    cpu_group = dist.new_group(backend="gloo", timeout=timeout)  # its own: never between DDP's collectives
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank, cpu_group)


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


def any_rank(flag: bool, ctx: Dist) -> bool:
    """True on every rank when `flag` is true on any: a 1-element all-reduce on the CPU group, so it never
    waits for the GPU (the ranks' host threads meet; their streams run on)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([float(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=ctx.cpu_group)
    return bool(t.item())


class Agreement:
    """`any_rank` one step late, so its latency hides behind a step: each call starts this step's all-reduce
    and returns the previous one's result. Every rank reads the same results in the same order, so they stop
    at the same step, at most one step after a signal."""

    def __init__(self, ctx: Dist) -> None:
        self.ctx, self._pending = ctx, None

    def __call__(self, flag: bool) -> bool:
        if not self.ctx.enabled:
            return flag
        agreed = self.settle()
        t = torch.tensor([float(flag)])
        self._pending = (dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.ctx.cpu_group, async_op=True), t)
        return agreed

    def settle(self) -> bool:
        """The result of the all-reduce in flight (False when none); nothing is left in flight."""
        if self._pending is None:
            return False
        work, t = self._pending
        work.wait()
        self._pending = None
        return bool(t.item())


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
