"""SGD with Nesterov momentum and the torch.optim.lr_scheduler schedules, stepped every iteration."""

from __future__ import annotations

import torch
from omegaconf import DictConfig
from torch import nn
from torch.optim import lr_scheduler

from ..core.errors import ConfigError
from ..core.schema import choice


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


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state but keep this process's `fused` choice: a checkpoint written on a CPU
    (unfused) must not leave a CUDA run unfused after a resume, nor a CUDA one ask for fused CPU SGD."""
    fused = [g.get("fused") for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, flag in zip(optimizer.param_groups, fused, strict=True):
        group["fused"] = flag


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
