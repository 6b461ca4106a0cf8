"""Build step of a run: loaders, model, optimizer, scheduler and runtime, from the config.

`train()` calls it, and so does the benchmark (scripts/bench_measure.py), so what is measured is what trains.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn

from ..core import distributed
from ..core.errors import ConfigError
from ..data import Loaders, Splits, load_splits, loaders_for
from ..models import build_variant
from .optim import make_optimizer, make_scheduler
from .runtime import Runtime, in_multirun


@dataclass
class Built:
    """Everything a run trains with. `raw` is the bare network (what checkpoints hold); `model` is what the
    loop calls (DDP-wrapped and/or compiled)."""

    rt: Runtime
    splits: Splits
    loaders: Loaders
    raw: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    steps_per_epoch: int

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.raw.parameters())


def make_runtime(cfg: DictConfig, device: torch.device, ctx: distributed.Dist) -> Runtime:
    cuda, t = device.type == "cuda", cfg.trainer
    quiet = not sys.stdout.isatty() or in_multirun() or not ctx.is_main  # a bar only for a person watching
    return Runtime(device, ctx, cuda and t.bf16, cuda and t.channels_last, t.progress and not quiet)


def build(
    cfg: DictConfig, device: torch.device, ctx: distributed.Dist, splits: Splits | None = None
) -> Built:
    """Read the data (unless `splits` is given), then build the loaders, network, optimizer and scheduler."""
    rt = make_runtime(cfg, device, ctx)
    splits = splits or load_splits(cfg.dataset, cfg.eval)
    loaders = loaders_for(
        splits, cfg.dataset, device, rt.dtype, rt.channels_last, cfg.eval.train_error_images
    )
    steps = loaders.train.steps_per_epoch(cfg.trainer.batch_size)
    if steps == 0:
        raise ConfigError(
            f"trainer.batch_size={cfg.trainer.batch_size} exceeds the {len(loaders.train)} training images"
        )
    raw = build_variant(cfg.model, splits.num_classes)
    if ctx.enabled and cfg.trainer.sync_bn:
        if device.type != "cuda":
            raise ConfigError("trainer.sync_bn=true needs CUDA (SyncBatchNorm has no CPU kernel)")
        raw = nn.SyncBatchNorm.convert_sync_batchnorm(raw)
    raw = raw.to(device, memory_format=rt.memory_format)
    optimizer = make_optimizer(raw, cfg.optim)
    scheduler = make_scheduler(optimizer, cfg.sched, cfg.trainer.epochs, steps)
    return Built(rt, splits, loaders, raw, wrap(raw, cfg, ctx), optimizer, scheduler, steps)


def wrap(raw: nn.Module, cfg: DictConfig, ctx: distributed.Dist) -> nn.Module:
    """DDP under torchrun, then torch.compile if asked."""
    model = nn.parallel.DistributedDataParallel(raw) if ctx.enabled else raw
    if not cfg.trainer.compile:
        return model
    # A sweep runs every job in one process: without a reset, Dynamo's cache of earlier jobs' graphs fills
    # (recompile_limit) after a few models and later rows silently train uncompiled.
    torch._dynamo.reset()
    return torch.compile(model, mode=cfg.trainer.compile_mode, backend=cfg.trainer.compile_backend)
