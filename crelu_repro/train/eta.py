"""How long a run takes: its shape (steps, epochs, evaluation passes) times a measured step.

The trainer measures its own steps after a warm-up (`RunClock`), logs the run's expected duration and shows
the whole run's time left in its progress bar; `make plan` (crelu_repro/evidence/plan/) prices planned runs
with the same `RunShape.seconds`, from a probe of the same step.

Evaluation is priced from the training step, roughly: a forward pass costs about a third of a training step
per image (the backward pass costs about twice the forward), so an evaluated image costs
EVAL_COST * step_s / batch. A run evaluates val and test after every `eval_every`-th epoch and the last one,
then its final metrics: the test set (ImageNet: 10 crops an image), val, and the clean train-error pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig

from ..data import get_dataset
from ..data.evaluate import evaluate_ten_patch

WARMUP_STEPS = 3  # ours: the first steps pay for allocation, cudnn autotuning and torch.compile: not timed
MEASURED_STEPS = 10  # ours: enough steps for a steady figure; the clock costs one device sync at each end
EVAL_COST = 1 / 3  # ours: an evaluated image against a trained one (forward only vs forward + backward)
LONG_ON_CPU_S = 2 * 3600  # issue 21: a CPU run expected to take longer than this gets a suggestion


@dataclass(frozen=True)
class RunShape:
    """What a run does, in steps and evaluated images."""

    epochs: int
    steps_per_epoch: int
    batch: int
    eval_every: int
    val_images: int
    test_images: int
    train_eval_images: int
    test_forwards: int = 1  # forward passes per test image in the final metrics (ImageNet: 10 crops)

    @classmethod
    def of(cls, cfg: DictConfig, built) -> RunShape:
        """The shape of the run `build(cfg, ...)` made into `built` (a build.Built)."""
        t, loaders = cfg.trainer, built.loaders
        forwards = 10 if get_dataset(cfg.dataset.name).test_metrics is evaluate_ten_patch else 1
        return cls(
            int(t.epochs), built.steps_per_epoch, int(t.batch_size), int(t.eval_every),
            len(loaders.val or ()), len(loaders.test), len(loaders.train_eval), forwards,
        )  # fmt: skip

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def evaluated_images(self, from_epoch: int = 0) -> int:
        """Images evaluated from the start of epoch `from_epoch` (0-based) to the end of the run."""
        evals = sum(
            1
            for e in range(from_epoch, self.epochs)
            if (e + 1) % self.eval_every == 0 or e + 1 == self.epochs
        )
        final = self.test_images * self.test_forwards + self.val_images + self.train_eval_images
        return evals * (self.val_images + self.test_images) + final

    def seconds(self, step_s: float, done_steps: int = 0) -> float:
        """Seconds the run takes from training step `done_steps` (counted over all epochs) to its end."""
        done_steps = min(max(done_steps, 0), self.total_steps)
        epoch = done_steps // self.steps_per_epoch if self.steps_per_epoch else self.epochs
        train = (self.total_steps - done_steps) * step_s
        return train + self.evaluated_images(epoch) * EVAL_COST * step_s / self.batch


class RunClock:
    """Times a run's steps after a warm-up, with one device sync at each end of the measured window.

    `after_step(boundary)` is called after every step of this session (`boundary`: the epoch ends or the
    run pauses after it); it returns True once, when the
    step time becomes known (after MEASURED_STEPS steps, or earlier at an epoch's end or a checkpoint pause:
    the evaluation or the save that follows must not enter the window). `now` is the clock (a synced one
    on CUDA; tests inject theirs)."""

    def __init__(
        self,
        shape: RunShape,
        now: Callable[[], float],
        warmup: int = WARMUP_STEPS,
        measure: int = MEASURED_STEPS,
    ) -> None:
        self.shape, self.now, self.warmup, self.measure = shape, now, warmup, measure
        self.seen, self.t0, self.window_from = 0, None, 0
        self.step_s: float | None = None

    def after_step(self, boundary: bool) -> bool:
        if self.step_s is not None:
            return False
        self.seen += 1
        if self.t0 is None:
            if self.seen >= self.warmup and not boundary:  # the window opens after the warm-up steps
                self.t0, self.window_from = self.now(), self.seen
            return False
        timed = self.seen - self.window_from
        if timed >= self.measure or boundary:
            self.step_s = (self.now() - self.t0) / timed
            return True
        return False

    def left_s(self, done_steps: int) -> float | None:
        """Seconds left from training step `done_steps` (over all epochs); None until measured."""
        return None if self.step_s is None else self.shape.seconds(self.step_s, done_steps)


def duration(seconds: float) -> str:
    """A duration as a person reads it: 45 s, 12 min, 3.4 h, 2.1 days."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def clock_text(seconds: float | None) -> str:
    """H:MM:SS for the progress bar ("?" while unknown)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def announce(shape: RunShape, step_s: float, done_steps: int, device: str) -> tuple[str, str | None]:
    """(the run's expected duration, a warning or None): what the trainer logs once the step is timed."""
    whole, left = shape.seconds(step_s), shape.seconds(step_s, done_steps)
    line = (
        f"expected duration of this run on {device}: about {duration(whole)} ({shape.epochs} epochs x "
        f"{shape.steps_per_epoch} steps at {step_s:.3g} s a step, evaluation included roughly); "
        f"{duration(left)} left"
    )
    warning = None
    if device == "cpu" and whole > LONG_ON_CPU_S:
        warning = (
            f"this run is expected to take {duration(whole)} on the CPU (over {LONG_ON_CPU_S // 3600} h, "
            f"{duration(left)} left): for a smoke run add experiment=quick, or train on a GPU"
        )
    return line, warning
