"""Where a run executes: device and backend settings, the per-run runtime flags, RNG state, timing."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from omegaconf import DictConfig

from . import distributed
from .config import choice
from .errors import ConfigError


@dataclass
class Runtime:
    device: torch.device
    dist: distributed.Dist
    amp: bool  # bf16 autocast
    progress: bool
    stop_requested: list[bool] = field(default_factory=lambda: [False])  # set by the SIGTERM handler

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()


@dataclass
class EpochSums:  # device tensors: summing them costs no host sync
    loss: torch.Tensor
    errors: torch.Tensor
    seen: torch.Tensor
    first_bad_step: torch.Tensor  # -1 while every loss is finite

    @classmethod
    def zeros(cls, device: torch.device) -> EpochSums:
        z = torch.zeros((), dtype=torch.float64, device=device)
        return cls(z.clone(), z.clone(), z.clone(), torch.full((), -1, dtype=torch.long, device=device))


def select_device(cfg: DictConfig) -> torch.device:
    want = choice(cfg.trainer.device)
    if want == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.device=cuda, but CUDA is not available here; use trainer.device=cpu or auto"
        )
    return torch.device("cuda" if want in ("cuda", "auto") and torch.cuda.is_available() else "cpu")


def setup_backends(cfg: DictConfig, device: torch.device) -> None:
    torch.manual_seed(cfg.seed)
    deterministic = cfg.trainer.deterministic
    torch.use_deterministic_algorithms(deterministic)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not deterministic


def rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


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
