"""A short measured run of the trainer's own step: `train_one_epoch` on what `build` makes of a config.

The benchmark (scripts/bench_measure.py) times img/s with it; `make plan PROBE=1`
(crelu_repro/evidence/plan/) prices a run with it. The first `warmup` steps are not timed (allocation, cudnn
autotuning, compilation).

`step_key` is what a step's time depends on besides the machine: the benchmark writes it into each row and
`make plan` finds rows (and its stored probes) by it, so the two never disagree on a key's name or value.
"""

from __future__ import annotations

import functools
import math
import platform
from collections.abc import Iterator
from pathlib import Path

import torch
from omegaconf import DictConfig

from ..models import label, variant_of
from .build import Built
from .session import synced_time
from .state import EpochSums, TrainState
from .trainer import train_one_epoch


class Probe:
    """Feeds the trainer from `loader` and stamps a synced clock when step `mark` starts; its epochs end
    once `stop` steps ran in all (the trainer then returns the steps it did, as at a pause)."""

    def __init__(self, loader, mark: int, stop: int, dev: torch.device) -> None:
        self.loader, self.mark, self.stop, self.done, self.t0, self.dev = loader, mark, stop, 0, 0.0, dev

    def steps_per_epoch(self, batch: int) -> int:
        return self.loader.steps_per_epoch(batch)

    def train_epoch(self, *args) -> Iterator:
        for batch in self.loader.train_epoch(*args):
            if self.done == self.stop:
                return
            if self.done == self.mark:
                self.t0 = synced_time(self.dev)  # every warm-up step has finished
            self.done += 1
            yield batch

    def run(self, built: Built, cfg: DictConfig) -> float:
        """Train through the probe until `stop` steps ran (epoch after epoch if one is shorter); return the
        seconds the steps after the warm-up took."""
        state, per_epoch = TrainState(EpochSums.zeros(self.dev)), built.steps_per_epoch
        while self.done < self.stop:
            state.step = train_one_epoch(
                built.model, self, built.optimizer, built.scheduler, built.rt, state, cfg
            )
            if state.step >= per_epoch:
                state.epoch, state.step, state.sums = state.epoch + 1, 0, EpochSums.zeros(self.dev)
        return synced_time(self.dev) - self.t0


def outlasting_epochs(cfg: DictConfig, steps: int, train_images: int) -> int:
    """Epochs for a probe's config whose schedule outlasts `steps` (a one-cycle schedule refuses a step
    past its end): the run's own epochs when they are enough."""
    per_epoch = max(train_images // cfg.trainer.batch_size, 1)
    return max(int(cfg.trainer.epochs), math.ceil(steps / per_epoch) + 1)


def step_key(cfg: DictConfig) -> dict:
    """What a training step's time depends on besides the device and torch: the network (by its description:
    `models.label`, a table's row name), the dataset, image size and batch, and the runtime switches."""
    t, d = cfg.trainer, cfg.dataset
    return {"network": label(variant_of(cfg.model)), "data": str(d.name), "image_size": int(d.image_size),
            "batch": int(t.batch_size), "compile": str(t.compile_mode) if t.compile else "none",
            "bf16": bool(t.bf16), "channels_last": bool(t.channels_last)}  # fmt: skip


@functools.cache
def device_name(dev: torch.device) -> str:
    """The card's name ("NVIDIA H200"), or "cpu: <the CPU's model name>": whose step a probe timed."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    info = Path("/proc/cpuinfo")
    names = [ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines()
             if ln.startswith("model name")] if info.exists() else []  # fmt: skip
    return f"{dev.type}: {(names or [platform.processor() or platform.machine()])[0]}"
