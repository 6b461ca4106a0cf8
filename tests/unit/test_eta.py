"""The whole-run ETA: the estimate from a shape and injected step times, the clock's warm-up and window,
the message on a long CPU run, and the trainer's bar over the whole run (in process)."""

from __future__ import annotations

import itertools
import logging
import sys

import pytest

from crelu_repro.train import trainer
from crelu_repro.train.eta import EVAL_COST, RunClock, RunShape, announce, clock_text

SHAPE = RunShape(epochs=2, steps_per_epoch=10, batch=4, eval_every=1, val_images=8, test_images=12,
                 train_eval_images=20)  # fmt: skip


def test_the_estimate_counts_every_step_and_every_evaluated_image():
    # 20 steps of 3 s; two epoch-end passes over val + test (2 x 20 images) and the final test, val and
    # train-error passes (40 images), each image at EVAL_COST of a step's 4 images.
    assert SHAPE.seconds(3.0) == pytest.approx(20 * 3 + 80 * EVAL_COST * 3 / 4)
    # from step 15 (epoch 2): 5 steps, epoch 2's evaluation and the final passes
    assert SHAPE.seconds(3.0, done_steps=15) == pytest.approx(5 * 3 + 60 * EVAL_COST * 3 / 4)
    sparse = RunShape(4, 10, 4, 3, 8, 12, 20, test_forwards=10)  # evaluated after epoch 3 and 4 only
    assert sparse.evaluated_images() == 2 * 20 + (120 + 8 + 20)
    assert SHAPE.seconds(3.0, done_steps=SHAPE.total_steps) == pytest.approx(40 * EVAL_COST * 3 / 4)


def fake_clock(durations: list[float]):
    """A clock whose n-th reading is the sum of the first n durations."""
    times = itertools.accumulate(durations)
    return lambda: next(times)


def test_the_clock_skips_the_warm_up_and_reports_once():
    clock = RunClock(SHAPE, fake_clock([100.0, 102.0, 102.0]), warmup=3, measure=4)
    # the window opens after step 3 (a reading at 100) and closes after step 7 (a reading at 202)
    reported = [clock.after_step(boundary=False) for _ in range(9)]
    assert reported == [False] * 6 + [True, False, False]
    assert clock.step_s == pytest.approx(102.0 / 4)
    assert clock.left_s(7) == pytest.approx(SHAPE.seconds(25.5, 7))
    assert RunClock(SHAPE, fake_clock([0.0])).left_s(0) is None  # not measured yet


def test_an_epoch_end_closes_the_window_before_its_evaluation():
    clock = RunClock(SHAPE, fake_clock([10.0, 6.0, 1.0, 5.0]), warmup=2, measure=10)
    assert not clock.after_step(False) and not clock.after_step(True)  # warm-up over at an epoch's end:
    assert clock.t0 is None  # the window waits for the next epoch
    assert not clock.after_step(False)  # opens at 10
    assert not clock.after_step(False)
    assert clock.after_step(True)  # 2 steps in 6 s
    assert clock.step_s == pytest.approx(3.0)


def test_a_long_cpu_run_is_told_to_try_experiment_quick():
    line, warning = announce(SHAPE, 400.0, 0, "cpu")  # 20 steps of 400 s and 80 images at 33 s: 3 h
    assert "expected duration of this run on cpu: about 3.0 h" in line and "evaluation included" in line
    assert "experiment=quick" in warning and "2 h" in warning
    assert announce(SHAPE, 400.0, 0, "cuda")[1] is None  # the suggestion is for CPU runs
    assert announce(SHAPE, 1.0, 0, "cpu")[1] is None  # a short run needs none
    assert clock_text(3725.4) == "1:02:05" and clock_text(None) == "?"


class Bars(list):
    """The trainer's tqdm, recorded: every bar made, with its postfixes."""

    def make(self, *args, **kw):
        from tqdm import tqdm

        bar = tqdm(*args, **{**kw, "disable": True})
        bar.kw, bar.postfixes = kw, []
        real = bar.set_postfix
        bar.set_postfix = lambda **p: (bar.postfixes.append(p), real(**p))
        self.append(bar)
        return bar


def test_the_trainer_logs_its_eta_and_its_bar_spans_the_run(cifar_train, monkeypatch, caplog):
    bars = Bars()
    monkeypatch.setattr(trainer, "tqdm", bars.make)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)  # a person watches: a bar
    with caplog.at_level(logging.INFO, logger="crelu_repro"):
        cifar_train("trainer.epochs=2")
    assert len(bars) == 2 and {b.kw["total"] for b in bars} == {8}  # 2 epochs x 4 steps, not 4
    assert bars[1].kw["initial"] == 4  # the second epoch starts at the run's step 4
    lefts = [p["run_left"] for b in bars for p in b.postfixes]
    assert lefts and all(left != "?" for left in lefts)  # timed after the first epoch's warm-up
    messages = [r.getMessage() for r in caplog.records]
    assert sum("expected duration of this run on cpu" in m for m in messages) == 1
    assert not any("experiment=quick" in m for m in messages)  # this run takes seconds


def test_the_trainer_warns_when_a_cpu_run_would_take_hours(cifar_train, monkeypatch, caplog):
    hours = itertools.count(step=3600.0)  # every reading of the synced clock an hour after the last
    monkeypatch.setattr(trainer, "synced_time", lambda device: next(hours))
    with caplog.at_level(logging.INFO, logger="crelu_repro"):
        cifar_train()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("experiment=quick" in w and "on the CPU" in w for w in warnings)
