"""Where a run executes (its session): the device, the torchrun process group, backend settings, the stop
signal and timing.

The stop signals (STOP_SIGNALS: SIGTERM, what SLURM and torchrun send; SIGINT, Ctrl-C; SIGHUP, a closed
terminal; SIGUSR2, submitit's warning before a time limit) only set a flag; the loop looks at it after every
step (all ranks agreeing, see `Runtime.stop_agreed`), checkpoints and raises Preempted. A second Ctrl-C stops
at once (KeyboardInterrupt); every file is written atomically, so nothing is lost.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from ..core import distributed
from ..core.errors import ConfigError
from ..core.schema import choice

# Each one makes the run checkpoint and stop. SIGUSR2 is what submitit (hydra/launcher=submitit_slurm) has
# SLURM send before a time limit (`--signal=USR2@<signal_delay_s>`); its own handler then requeues the job.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2)


class StopFlag:
    """Set by a stop signal; one per process, so a sweep that runs many jobs in one process sees it."""

    def __init__(self) -> None:
        self.signal: str | None = None  # "SIGTERM" | "SIGINT" | ... once received
        self._installed = 0
        self._received: list[str] = []  # every stop signal, in order (several may come: SIGTERM, SIGUSR2)
        self._previous: dict[int, object] = {}  # the handlers ours replaced (outermost installation)

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, _frame) -> None:
        if self.signal == "SIGINT" and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        name = signal.Signals(signum).name
        self.signal = self.signal or name  # the first one names the stop
        self._received.append(name)

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Route STOP_SIGNALS here for the duration (nested uses share one installation). The outermost one
        starts clear: a stop ends the sweep it came in, not the next `train()` of a notebook."""
        if not self._installed:
            self.signal, self._received = None, []
        main = threading.current_thread() is threading.main_thread()  # handlers exist in the main thread only
        previous = {}
        if main and not self._installed:
            previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
            self._previous = previous
        self._installed += 1
        try:
            yield self
        finally:
            self._installed -= 1
            for s, handler in previous.items():
                signal.signal(s, handler)

    def hand_back(self) -> None:
        """Once the run has checkpointed and our handlers are gone: give each stop signal received to the
        handler ours replaced, when that is code (submitit's: on SIGUSR2 it requeues the job, which then
        resumes from the checkpoint; on SIGTERM it logs). Python's Ctrl-C handler and the defaults are left
        alone."""
        if self._installed:
            return
        for name in dict.fromkeys(self._received):
            signum = signal.Signals[name]
            handler = self._previous.get(signum)
            if callable(handler) and handler is not signal.default_int_handler:
                handler(signum, None)


STOP = StopFlag()


@dataclass
class Runtime:
    device: torch.device
    dist: distributed.Dist
    amp: bool  # bf16 autocast
    channels_last: bool
    progress: bool  # a tqdm bar
    stopping: bool = False  # the ranks agreed to stop (the last `stop_agreed`)

    def __post_init__(self) -> None:
        self._agreement = distributed.Agreement(self.dist)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.amp else nullcontext()

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.amp else torch.float32

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.preserve_format

    def stop_agreed(self, settle: bool = False) -> bool:
        """Whether to stop now. Alone: the flag. Under DDP every rank must stop at the same step, so the
        ranks agree at every step: a 1-element all-reduce on a CPU (gloo) group, no GPU sync, read a step
        later so it overlaps the step (`settle`: wait for it now, at a point where the loop pauses anyway)."""
        if settle:
            self.stopping = self._agreement.settle() or distributed.any_rank(STOP.requested, self.dist)
        else:
            self.stopping = self._agreement(STOP.requested)
        return self.stopping


def select_device(cfg: DictConfig) -> torch.device:
    want = choice(cfg.trainer.device)
    if problem := distributed.device_problem(want):  # (validate said so already, before any folder)
        raise ConfigError(problem)
    return torch.device(distributed.device_kind(want))


@contextmanager
def session(cfg: DictConfig) -> Iterator[tuple[torch.device, distributed.Dist]]:
    """The device and process group of a run (torchrun's, or a single process), the stop signal routed to
    STOP, and backend settings; the group is torn down at the end."""
    device = select_device(cfg)
    if device.type == "cuda" and cfg.trainer.deterministic:
        # cuBLAS reads this when its first handle is made: before any CUDA work (torch's reproducibility
        # notes); without it, use_deterministic_algorithms raises at the first matmul.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    with STOP.installed():
        ctx = distributed.init(device.type)
        try:
            if device.type == "cuda":
                device = torch.device("cuda", ctx.local_rank)
            setup_backends(cfg, device)
            yield device, ctx
        finally:
            distributed.shutdown(ctx)


def setup_backends(cfg: DictConfig, device: torch.device) -> None:
    torch.manual_seed(cfg.seed)
    deterministic = cfg.trainer.deterministic
    torch.use_deterministic_algorithms(deterministic)
    # Denormal floats (tiny gradients and momentum early in a one-cycle warm-up) take a slow path on x86
    # CPUs; flushed to zero they cost what any number does, and change nothing a model can learn.
    torch.set_flush_denormal(device.type == "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not deterministic


def synced_time(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except ImportError:
        return False
