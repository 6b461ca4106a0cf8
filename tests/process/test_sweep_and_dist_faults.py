"""Slow: a killed sweep resumes with only its unfinished runs; a dead rank ends a DDP job promptly."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from tests.helpers import TINY, render_table, run, signal_after_checkpoint, start, torchrun_cmd, train_cmd

pytestmark = pytest.mark.slow


def test_killed_sweep_reruns_only_unfinished_runs_and_the_table_is_complete(cifar_root, tmp_path):
    sweep_dir = tmp_path / "convpool"
    grid = ["-m", "experiment=convpool", "model=relu,crelu_half", "dataset=cifar10", "eval.models=3"]
    recipe = [*grid[2:], f"dataset.root={cifar_root}", *TINY[:-1]]
    cmd = train_cmd([*grid[:2], *recipe, f"hydra.sweep.dir={sweep_dir}"])
    proc = start(cmd)
    deadline = time.time() + 600
    while len(list(sweep_dir.rglob("result.json"))) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(sweep_dir.rglob("result.json")))
    assert 2 <= finished < 6, "the sweep was not killed partway"

    rerun = run(cmd, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    trained, skipped = map(int, re.search(r"sweep: (\d+) trained, (\d+) skipped", rerun.stderr).groups())
    assert (trained, skipped) == (6 - finished, finished)

    out = render_table("convpool", sweep_dir, tmp_path, "--", *recipe)  # the sweep's recipe, as make gives it
    assert "| relu | 3/3 |" in out and "| crelu_half | 3/3 |" in out
    assert "Failed runs" not in out


def test_a_dead_rank_ends_the_job_within_60_s(cifar_root, tmp_path):
    args = [*TINY, "trainer.epochs=200", "trainer.batch_size=8", f"dataset.root={cifar_root}"]
    proc = start(torchrun_cmd([*args, f"hydra.run.dir={tmp_path}"]))
    stderr, elapsed = signal_after_checkpoint(proc, tmp_path, signal.SIGKILL, rank="1")
    assert proc.returncode != 0
    assert elapsed < 60, f"the job took {elapsed:.0f} s to end after a rank died"
    assert "exitcode" in stderr and "-9" in stderr  # torchrun names the failed rank and its signal
    assert (tmp_path / "checkpoint.pt").exists()  # the last checkpoint survives for a resume
