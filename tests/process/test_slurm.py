"""SLURM sweeps through hydra-submitit-launcher, tested for real with submitit's local executor
(`hydra/launcher=submitit_local`: the part that needs real processes (signals, exit codes,
subprocesses); the in-process tests are tests/unit/test_slurm.py."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from crelu_repro.core.results import deterministic_part, read_result
from tests.helpers import TINY, run_train, start_train

# 3 epochs of 16 steps: long enough to be signalled after the first checkpoint, bit-reproducible on a CPU
ARGS = [*TINY[:-1], "trainer.epochs=3", "trainer.batch_size=8", "trainer.deterministic=true"]


LOCAL = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=30"]  # no time limit reached here


def sweep(sweep_dir: Path, cifar_root: Path, models: str, *launcher: str) -> list[str]:
    return [
        "-m",
        *launcher,
        *ARGS,
        f"model={models}",
        f"dataset.root={cifar_root}",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def results(sweep_dir: Path) -> dict[str, dict]:
    """{run folder name: the deterministic part of its result}."""
    return {p.parent.name: deterministic_part(read_result(p.parent)) for p in sweep_dir.glob("*/result.json")}


@pytest.fixture(scope="module")
def reference(cifar_root, tmp_path_factory) -> dict[str, dict]:
    """The basic launcher's sweep (every job in this one process)."""
    sweep_dir = tmp_path_factory.mktemp("basic") / "sweep"
    proc = run_train(sweep(sweep_dir, cifar_root, "relu,crelu_half"), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return results(sweep_dir)


def submitit_task(parent: int) -> int:
    """The pid of the process running the job (submitit.core._submit) under a `train.py -m` process."""

    def descendants(pid: int) -> list[int]:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        kids = [int(c) for c in children.read_text().split()] if children.exists() else []
        return kids + [g for k in kids for g in descendants(k)]

    for pid in descendants(parent):
        try:
            if b"submitit.core._submit" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    raise AssertionError("no submitit job process found")


def signal_job_after_checkpoint(proc, sweep_dir: Path, sig: int) -> str:
    """Send `sig` to the job's process once its run has a checkpoint; return the sweep's stderr."""
    try:
        deadline = time.time() + 600
        while not list(sweep_dir.glob("*/checkpoint.pt")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before its job could be signalled"
        os.kill(submitit_task(proc.pid), sig)
        return proc.communicate(timeout=900)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow  # real processes (each job its own), long: in `make test-slow` (CI runs both)
def test_a_submitit_sweep_gives_the_basic_launchers_results(reference, cifar_root, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_train(sweep(sweep_dir, cifar_root, "relu,crelu_half", *LOCAL), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the jobs ran in other processes; their outcomes came back to this sweep's summary
    assert (
        "sweep: 2 trained, 0 skipped (already complete), 0 busy (another process trains them), 0 failed"
        in (proc.stderr)
    )
    assert results(sweep_dir) == reference and len(reference) == 2


@pytest.mark.slow
def test_sigusr2_checkpoints_then_the_requeued_job_resumes_to_the_same_result(
    reference, cifar_root, tmp_path
):
    """SLURM sends SIGUSR2 `signal_delay_s` before a time limit (submitit's `--signal=USR2@...`)."""
    sweep_dir = tmp_path / "sweep"
    proc = start_train(sweep(sweep_dir, cifar_root, "relu", *LOCAL))
    stderr = signal_job_after_checkpoint(proc, sweep_dir, signal.SIGUSR2)
    assert proc.returncode == 0 and "sweep: 1 trained" in stderr, stderr[-3000:]
    (log,) = sweep_dir.glob("*/train.log")
    text = log.read_text()
    assert re.search(r"SIGUSR2: checkpointed .* at epoch \d, step \d+", text), text  # the run checkpointed,
    assert re.search(r"resuming at epoch \d, step \d+", text), text  # submitit requeued it, and it resumed
    assert text.count("training relu on cifar10") == 2
    ((name, result),) = results(sweep_dir).items()
    assert result == reference[name]  # the uninterrupted run's result


@pytest.mark.slow
def test_sigterm_checkpoints_and_rerunning_the_sweep_finishes_it(reference, cifar_root, tmp_path):
    """SLURM sends SIGTERM on preemption and `scancel` (then SIGKILL after a grace time)."""
    sweep_dir = tmp_path / "sweep"
    proc = start_train(sweep(sweep_dir, cifar_root, "relu", *LOCAL))
    stderr = signal_job_after_checkpoint(proc, sweep_dir, signal.SIGTERM)
    assert proc.returncode == 143, stderr[-3000:]
    assert re.search(r"stopped: SIGTERM: checkpointed .* at epoch \d, step \d+", stderr), stderr[-3000:]
    assert list(sweep_dir.glob("*/checkpoint.pt")) and not list(sweep_dir.glob("*/result.json"))
    rerun = run_train(sweep(sweep_dir, cifar_root, "relu", *LOCAL), timeout=900)
    assert rerun.returncode == 0 and "sweep: 1 trained" in rerun.stderr, rerun.stderr[-3000:]
    ((name, result),) = results(sweep_dir).items()
    assert result == reference[name]
    assert "resuming at epoch" in next(sweep_dir.glob("*/train.log")).read_text()
