"""The trainer's per-step bookkeeping (EpochSums): a step records its loss and error count in three small
ops; the sums, the sample count and the first non-finite step are folded in at flushes, and come out as the
per-step formula gives them wherever the flushes fall."""

from __future__ import annotations

import math

import pytest
import torch

from crelu_repro.core.distributed import Dist
from crelu_repro.train.state import EpochSums
from tests.helpers.device_spy import OpCounter

CPU = torch.device("cpu")
VIEWS = {"detach", "alias", "view", "_unsafe_view"}  # no kernel of their own


def steps(n: int, batch: int = 16, classes: int = 10, nan_at: tuple[int, ...] = ()) -> list[tuple]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        logits = torch.randn(batch, classes, generator=gen)
        y = torch.randint(0, classes, (batch,), generator=gen)
        loss = torch.nn.functional.cross_entropy(logits, y) * (math.nan if i in nan_at else 1.0)
        out.append((loss, logits, y))
    return out


def reference(data: list[tuple]) -> tuple[float, float, float, int]:
    """The per-step formula, in float64: (loss sum, errors, seen, first non-finite step or -1)."""
    loss = sum(float(l_) * y.numel() for l_, _, y in data)
    errors = sum(int((lg.argmax(1) != y).sum()) for _, lg, y in data)
    bad = [i for i, (l_, _, _) in enumerate(data) if not math.isfinite(float(l_))]
    return loss, errors, sum(y.numel() for _, _, y in data), bad[0] if bad else -1


@pytest.mark.parametrize("flush_at", [(), (1, 2, 9), tuple(range(23))])
def test_sums_match_the_per_step_formula_wherever_the_flushes_fall(flush_at):
    data = steps(23)
    sums = EpochSums.zeros(CPU)
    for i, (loss, logits, y) in enumerate(data):
        sums.record(loss, logits, y, i)
        if i in flush_at:
            sums.flush()
    loss, errors, seen = sums.totals(Dist()).tolist()
    want = reference(data)
    assert (loss, errors, seen) == (pytest.approx(want[0], rel=1e-12), want[1], want[2])
    assert int(sums.first_bad_step) == -1
    assert not sums.pending_loss  # totals flushed


def test_the_first_non_finite_step_is_kept_across_flushes():
    data = steps(12, nan_at=(5, 9))
    sums = EpochSums.zeros(CPU)
    for i, (loss, logits, y) in enumerate(data):
        sums.record(loss, logits, y, i)
        if i in (3, 7):
            sums.flush()
    sums.flush()
    assert int(sums.first_bad_step) == 5 == reference(data)[3]
    resumed = EpochSums.zeros(CPU)  # a later flush cannot overwrite an earlier bad step
    resumed.first_bad_step.fill_(2)
    for i, (loss, logits, y) in enumerate(data[6:], start=6):
        resumed.record(loss, logits, y, i)
    resumed.flush()
    assert int(resumed.first_bad_step) == 2


def test_a_step_costs_three_ops_and_a_flush_does_not_grow_with_the_steps():
    """argmax, compare, sum per step (the per-step formula took about 15); a flush a fixed handful."""
    data = steps(60)
    sums = EpochSums.zeros(CPU)
    per_step = []
    for i, (loss, logits, y) in enumerate(data[:50]):
        with OpCounter() as ops:
            sums.record(loss, logits, y, i)
        per_step.append([f for f in ops.ops if f.overloadpacket.__name__ not in VIEWS])
    assert all(len(p) == 3 for p in per_step), per_step[0]
    with OpCounter() as big:
        sums.flush()
    for i, (loss, logits, y) in enumerate(data[50:], start=50):
        sums.record(loss, logits, y, i)
    with OpCounter() as small:
        sums.flush()
    assert len(big.ops) == len(small.ops) < 25


def test_a_change_of_batch_size_or_a_gap_in_steps_flushes_first():
    (l0, g0, y0), (l1, g1, y1) = steps(1, batch=16)[0], steps(1, batch=8)[0]
    sums = EpochSums.zeros(CPU)
    sums.record(l0, g0, y0, 0)
    sums.record(l1, g1, y1, 1)  # another size: the first step is folded in with its own size
    sums.record(l1, g1, y1, 5)  # not consecutive
    loss, _, seen = sums.totals(Dist()).tolist()
    assert seen == 16 + 8 + 8
    assert loss == pytest.approx(float(l0) * 16 + 2 * float(l1) * 8, rel=1e-12)
