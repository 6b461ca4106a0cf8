"""torchrun / DistributedDataParallel plumbing. Without torchrun everything degrades to one process."""

from __future__ import annotations

import datetime
import os
import platform
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


TORCHRUN = "torchrun --nproc_per_node=N train.py ...: it sets them all"


@dataclass(frozen=True)
class LaunchEnv:
    """What torchrun announces in the environment, checked (`launch_env`)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1  # LOCAL_WORLD_SIZE: the processes on this host (they share its memory)
    timeout_s: float = 600.0  # CRELU_DIST_TIMEOUT_S: how long a collective waits for a dead peer


def _env_int(name: str, default: int, low: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise ConfigError(f"{name}={text!r}: must be a whole number >= {low} (torchrun sets it); unset it")
    return value


def launch_env() -> LaunchEnv:
    """RANK, WORLD_SIZE, LOCAL_RANK and CRELU_DIST_TIMEOUT_S, checked: ConfigError (one line) for a malformed
    value, a stray RANK outside a process group (its outputs would go nowhere), or WORLD_SIZE > 1 without
    what torchrun sets beside it (the process would wait for peers that never come)."""
    world, rank = _env_int("WORLD_SIZE", 1, 1), _env_int("RANK", 0, 0)
    local_rank, local_world = _env_int("LOCAL_RANK", 0, 0), _env_int("LOCAL_WORLD_SIZE", 1, 1)
    if world == 1 and rank > 0:
        raise ConfigError(
            f"RANK={rank} is set, but WORLD_SIZE is {os.environ.get('WORLD_SIZE', 'unset')}: this process is "
            "not part of a torchrun process group. Unset RANK to train in one process, or start several "
            f"with {TORCHRUN}"
        )
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if world > 1 and k not in os.environ]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={world}, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
            f"several processes are started with {TORCHRUN}"
        )
    if rank >= world:
        raise ConfigError(f"RANK={rank}: must be below WORLD_SIZE={world} (torchrun sets both); unset them")
    text = os.environ.get("CRELU_DIST_TIMEOUT_S", "600")
    try:
        timeout = float(text)
    except ValueError:
        timeout = float("nan")
    if not 0 < timeout < float("inf"):
        raise ConfigError(f"CRELU_DIST_TIMEOUT_S={text!r}: must be a number of seconds > 0 (default 600)")
    return LaunchEnv(rank, world, local_rank, local_world, timeout)


def device_kind(want: str) -> str:
    """The device a run of `trainer.device=want` uses: "cuda" when asked for (or auto) and present."""
    return "cuda" if want in ("cuda", "auto") and torch.cuda.is_available() else "cpu"


def native_bf16(kind: str) -> bool:
    """Whether bf16 autocast is fast on this device kind: CUDA, or a CPU whose instructions compute in bf16
    (avx512_bf16 or AMX). Elsewhere bf16 would be emulated, slower than fp32, so runs stay in fp32."""
    return kind == "cuda" or bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


CPUINFO = "/proc/cpuinfo"  # Linux's description of the CPU


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux's /proc/cpuinfo; empty elsewhere)."""
    return set(_cpuinfo("flags").split())


def cpu_name() -> str:
    """The CPU's model, as a report names the machine: "Intel(R) Xeon(R) ..." (or the architecture)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def _cpuinfo(field: str) -> str:
    """The first value of `field` in Linux's /proc/cpuinfo ("" elsewhere)."""
    try:
        with open(CPUINFO) as f:
            line = next((ln for ln in f if ln.split(":", 1)[0].strip() == field), "")
    except OSError:
        return ""
    return line.split(":", 1)[1].strip() if ":" in line else ""


def device_problem(want: str) -> str | None:
    """Why `trainer.device=want` cannot run here (a config check: said before any folder is made)."""
    if want == "cuda" and not torch.cuda.is_available():
        return "trainer.device=cuda, but CUDA is not available here; use trainer.device=cpu or auto"
    return None


def init(device_kind: str) -> Dist:
    """Join the process group torchrun set up: NCCL on CUDA, gloo on CPU."""
    env = launch_env()
    if env.world == 1:
        return Dist()
    if device_kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device=cuda under torchrun, but CUDA is not available")
    backend = "nccl" if device_kind == "cuda" else "gloo"
    local_rank = env.local_rank
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    # A bounded timeout: if a peer dies, collectives fail instead of hanging forever.
    timeout = datetime.timedelta(seconds=env.timeout_s)
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
