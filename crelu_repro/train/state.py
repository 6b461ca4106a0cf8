"""Where a run's training is (`TrainState`: epoch, step, history, wall time) and the current epoch's running
sums (`EpochSums`, device tensors): what a checkpoint holds of the loop, and what result.json reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..core import distributed


@dataclass
class EpochSums:
    """Running sums of the current epoch, as device tensors: adding to them costs no host sync.

    A step only records its loss and its error count (3 small kernels: argmax, compare, sum); the sums, the
    sample count and the first non-finite step are folded in by `flush`, once per log point, pause or
    epoch end (about 15 tiny kernels per step otherwise: the floor of a CUDA-graphed step at batch 128).
    `totals` flushes; call `flush` before reading a field directly."""

    loss: torch.Tensor
    errors: torch.Tensor
    seen: torch.Tensor
    first_bad_step: torch.Tensor  # -1 while every loss is finite
    pending_loss: list[torch.Tensor] = field(default_factory=list)  # the unflushed steps' losses, ()
    pending_errors: list[torch.Tensor] = field(default_factory=list)  # and their error counts, ()
    pending_from: int = 0  # the step of the first pending entry; the pending steps are consecutive
    pending_size: int = 0  # images per pending step

    @classmethod
    def zeros(cls, device: torch.device) -> EpochSums:
        z = torch.zeros((), dtype=torch.float64, device=device)
        return cls(z.clone(), z.clone(), z.clone(), torch.full((), -1, dtype=torch.long, device=device))

    def record(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, step: int) -> None:
        """One step's mean loss () and its errors on logits (B, classes) vs labels y (B,)."""
        if self.pending_loss and (
            y.numel() != self.pending_size or step != self.pending_from + len(self.pending_loss)
        ):
            self.flush()
        if not self.pending_loss:
            self.pending_from, self.pending_size = step, y.numel()
        self.pending_loss.append(loss.detach())
        self.pending_errors.append((logits.detach().argmax(1) != y).sum())

    def flush(self) -> None:
        """Fold the pending steps into the sums (a few kernels, no host sync)."""
        if not self.pending_loss:
            return
        losses = torch.stack(self.pending_loss)  # (k,) float32
        # float64 products of float32 losses and a batch size are exact, and so are their sums at these
        # magnitudes: the totals do not depend on where the flushes fall (a resumed run matches).
        self.loss += (losses.double() * self.pending_size).sum()
        self.errors += torch.stack(self.pending_errors).sum()
        self.seen += len(self.pending_loss) * self.pending_size
        bad = ~torch.isfinite(losses)  # (k,)
        first = torch.where(bad.any(), bad.int().argmax() + self.pending_from, -1)  # argmax: first True
        self.first_bad_step = torch.where(self.first_bad_step >= 0, self.first_bad_step, first)
        self.pending_loss, self.pending_errors = [], []

    def totals(self, ctx: distributed.Dist) -> torch.Tensor:
        """(loss, errors, seen) summed over the ranks."""
        self.flush()
        return distributed.all_reduce_sum(torch.stack([self.loss, self.errors, self.seen]), ctx)


@dataclass
class TrainState:
    """Where training is: the next epoch and step, the history so far, the epoch's running sums and the
    wall time of earlier sessions. New state is added here, in `state_dict` and `load_state_dict`."""

    sums: EpochSums
    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    wall_before: float = 0.0  # seconds spent before this session (resumes)
    started: float = field(default_factory=time.time)
    saved: dict | None = None  # the state_dict of the last checkpoint on disk (None: none yet)

    @property
    def wall_s(self) -> float:
        return self.wall_before + time.time() - self.started

    def state_dict(self, ctx: distributed.Dist) -> dict:
        """Collective: the ranks' running sums are totalled (rank 0 resumes with them, the others with 0)."""
        totals = self.sums.totals(ctx)
        worst = distributed.all_reduce_max(self.sums.first_bad_step.clone(), ctx)
        sums = [*totals, worst]
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "sums": sums,
            "wall_s": self.wall_s,
        }

    def load_state_dict(self, state: dict, device: torch.device, is_main: bool) -> None:
        self.epoch, self.step, self.history = state["epoch"], state["step"], list(state["history"])
        loss, errors, seen, bad = (s.to(device) for s in state["sums"])
        keep = 1 if is_main else 0  # the checkpoint holds all ranks' sums: count them once
        self.sums = EpochSums(loss * keep, errors * keep, seen * keep, bad)
        self.wall_before, self.started = state["wall_s"], time.time()

    @classmethod
    def fresh(cls, device: torch.device) -> TrainState:
        """Epoch 0, step 0, nothing summed (checkpoint.resume fills one from a checkpoint)."""
        return cls(EpochSums.zeros(device))
