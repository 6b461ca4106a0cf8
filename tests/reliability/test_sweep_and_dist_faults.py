"""Slow: a killed sweep resumes with only its unfinished runs; a dead rank ends a DDP job promptly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TINY, render_table, train_env

pytestmark = pytest.mark.slow


def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=train_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_killed_sweep_reruns_only_unfinished_runs_and_the_table_is_complete(cifar_root, tmp_path):
    sweep_dir = tmp_path / "convpool"
    cmd = [
        sys.executable,
        str(REPO / "train.py"),
        "-m",
        "experiment=convpool",
        "model=relu,crelu_half",
        "dataset=cifar10",
        "eval.fold=0,1,2",
        "eval.models=3",
        f"dataset.root={cifar_root}",
        f"hydra.sweep.dir={sweep_dir}",
        *TINY[:-1],
    ]
    proc = _start(cmd)
    deadline = time.time() + 600
    while len(list(sweep_dir.rglob("result.json"))) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(sweep_dir.rglob("result.json")))
    assert 2 <= finished < 6, "the sweep was not killed partway"

    rerun = subprocess.run(cmd, cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    trained, skipped = map(int, re.search(r"sweep: (\d+) trained, (\d+) skipped", rerun.stderr).groups())
    assert (trained, skipped) == (6 - finished, finished)

    out = render_table("convpool", sweep_dir, tmp_path)
    assert "| relu | 3/3 |" in out and "| crelu_half | 3/3 |" in out
    assert "Failed runs" not in out


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return kids + [g for k in kids for g in _descendants(k)]


def _rank_of(pid: int) -> str | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"RANK=")), None)


def test_a_dead_rank_ends_the_job_within_60_s(cifar_root, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(REPO / "train.py"),
        *TINY,
        "trainer.epochs=200",
        "trainer.batch_size=8",
        f"dataset.root={cifar_root}",
        f"hydra.run.dir={tmp_path}",
    ]
    proc = _start(cmd)
    try:
        deadline = time.time() + 300
        while not (tmp_path / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        rank1 = [p for p in _descendants(proc.pid) if _rank_of(p) == "1"]
        assert rank1, "rank 1 not found"
        os.kill(rank1[0], signal.SIGKILL)
        killed_at = time.time()
        _, stderr = proc.communicate(timeout=120)
        elapsed = time.time() - killed_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert elapsed < 60, f"the job took {elapsed:.0f} s to end after a rank died"
    assert "exitcode" in stderr and "-9" in stderr  # torchrun names the failed rank and its signal
    assert (tmp_path / "checkpoint.pt").exists()  # the last checkpoint survives for a resume
