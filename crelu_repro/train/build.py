"""Build step of a run: loaders, model, optimizer, scheduler and runtime, from the config and its Variant.
The optimizer is SGD with Nesterov momentum; the torch.optim.lr_scheduler schedules step every iteration.

`train()` calls it, and so does the benchmark (scripts/bench_measure.py), so what is measured is what trains.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn
from torch.optim import lr_scheduler

from ..core import distributed
from ..core.errors import ConfigError
from ..core.schema import choice
from ..data import Loaders, Splits, load_splits, loaders_for
from ..models import Variant, build_variant
from .session import Runtime, in_multirun


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
    t = cfg.trainer
    quiet = not sys.stdout.isatty() or in_multirun() or not ctx.is_main  # a bar only for a person watching
    amp = t.bf16 and distributed.native_bf16(device.type)  # bf16 where the device computes in it natively
    return Runtime(device, ctx, amp, t.channels_last, t.progress and not quiet)


def build(
    cfg: DictConfig,
    device: torch.device,
    ctx: distributed.Dist,
    splits: Splits | None = None,
    variant: Variant | None = None,
) -> Built:
    """Read the data (unless `splits` is given), then build the loaders, network, optimizer and scheduler.
    `variant` is the run's model as validation described it (train() passes it on; else cfg.model's)."""
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
    raw = build_variant(cfg.model if variant is None else variant, splits.num_classes)
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


def make_optimizer(model: nn.Module, cfg: DictConfig) -> torch.optim.Optimizer:
    """SGD; by default no weight decay on BN parameters and biases (1-D tensors)."""
    if cfg.name != "sgd":
        raise ConfigError(f"optim.name={cfg.name!r}; valid: sgd")
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 or cfg.decay_bn_and_bias else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    on_cuda = next(model.parameters()).is_cuda  # fused: one kernel per group instead of many launches
    return torch.optim.SGD(
        groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, fused=on_cuda or None
    )


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: DictConfig, epochs: int, steps_per_epoch: int
) -> lr_scheduler.LRScheduler:
    total = epochs * steps_per_epoch
    name = choice(cfg.name)
    if name == "onecycle":
        return lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=total,
            pct_start=cfg.pct_start,
            div_factor=cfg.div_factor,
            final_div_factor=cfg.final_div_factor,
            cycle_momentum=cfg.cycle_momentum,
        )
    if name == "cosine":
        warmup = min(int(cfg.warmup_epochs * steps_per_epoch), total - 1)
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup)
        if warmup == 0:
            return cosine
        ramp = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, total_iters=warmup)
        return lr_scheduler.SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])
    if name == "step":
        milestones = sorted(int(round(f * total)) for f in cfg.milestones)
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=cfg.gamma)
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
