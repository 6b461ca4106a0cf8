"""SIGTERM (and SIGINT) are always honoured: the part that needs real processes (signals, exit codes,
subprocesses); the in-process tests are tests/unit/test_preemption.py."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import torch

from crelu_repro.core.results import read_result
from tests.helpers import TINY, signal_after_checkpoint, start, start_train, torchrun_cmd, wait_for


def saved_position(run_dir: Path) -> tuple[int, int]:
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)["state"]
    return state["epoch"], state["step"]


def test_sigterm_with_one_step_per_epoch(cifar_root, tmp_path):
    """128 images at batch 128: the check used to run only mid-epoch, so this run trained 14 more epochs."""
    run_dir = tmp_path / "run"
    args = [*TINY, "trainer.batch_size=128", "trainer.epochs=40", f"dataset.root={cifar_root}"]
    proc = start_train([*args, f"hydra.run.dir={run_dir}"])
    stderr, took = signal_after_checkpoint(proc, run_dir)
    assert proc.returncode == 143 and "SIGTERM: checkpointed" in stderr and "Traceback" not in stderr, stderr
    assert took < 30  # one step, one checkpoint
    epoch, step = saved_position(run_dir)
    assert step == 0 and 1 <= epoch < 40 and read_result(run_dir) is None
    assert f"at epoch {epoch + 1}, step 0" in stderr  # the message says where it stopped


def test_sigint_does_what_sigterm_does_without_a_traceback(cifar_root, tmp_path):
    run_dir = tmp_path / "run"
    proc = start_train([*TINY, "trainer.batch_size=8", "trainer.epochs=20", f"dataset.root={cifar_root}",
                        f"hydra.run.dir={run_dir}"])  # fmt: skip
    stderr, _ = signal_after_checkpoint(proc, run_dir, signal.SIGINT)
    assert proc.returncode == 143 and "SIGINT: checkpointed" in stderr, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert saved_position(run_dir) != (1, 0)  # saved where the signal stopped it, not only at epoch 1's end


def test_a_sweep_stops_after_the_current_runs_checkpoint(cifar_root, tmp_path):
    """The run in progress checkpointed, then Hydra's launcher used to train the remaining runs."""
    sweep_dir = tmp_path / "sweep"
    grid = ["model=relu,crelu_half,avr", "trainer.batch_size=8", "trainer.epochs=20"]
    proc = start_train(
        ["-m", *TINY[:-1], *grid, f"dataset.root={cifar_root}", f"hydra.sweep.dir={sweep_dir}"]
    )
    deadline = time.time() + 300
    while not list(sweep_dir.rglob("checkpoint.pt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 143, stderr[-2000:]
    assert "stopped: SIGTERM: checkpointed" in stderr and stderr.count("NOT STARTED") == 2
    (checkpoint,) = sweep_dir.rglob("checkpoint.pt")  # the first run's: it was the one in progress
    assert checkpoint.parent.name.startswith("0_model=relu,") and not list(sweep_dir.rglob("result.json"))
    assert sorted(p.name[:2] for p in sweep_dir.iterdir() if p.is_dir()) == ["0_"]  # nothing of runs 1, 2


def test_ddp_ranks_agree_to_stop_within_a_step_whatever_log_every(cifar_root, tmp_path):
    """4 steps per epoch, log_every 50: the ranks used to agree only at log points, never reached, so a
    SIGTERM on one rank stopped nothing (and torchrun's own SIGTERM ended in a SIGKILL, the epoch lost).
    Here only rank 1 gets the signal; rank 0 must stop at the same step and write the checkpoint."""
    args = [*TINY, "trainer.epochs=200", "trainer.log_every=50", f"dataset.root={cifar_root}"]
    proc = start(torchrun_cmd([*args, f"hydra.run.dir={tmp_path}"]))
    wait_for(tmp_path / "checkpoint.pt", proc)
    before = saved_position(tmp_path)
    stderr, took = signal_after_checkpoint(proc, tmp_path, rank="1")
    assert took < 60 and proc.returncode != 0, stderr[-3000:]
    assert "a stop signal on another rank: checkpointed" in stderr  # rank 0 stopped: it had no signal
    assert "SIGTERM: checkpointed" in stderr  # rank 1, at the same step (torchrun then reports both exits)
    assert saved_position(tmp_path) > before and read_result(tmp_path) is None


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_torchruns_sigterm_reaches_the_workers_and_they_checkpoint(cifar_root, tmp_path):
    args = [*TINY, "trainer.epochs=200", "trainer.batch_size=8", f"dataset.root={cifar_root}"]
    proc = start(torchrun_cmd([*args, f"hydra.run.dir={tmp_path}"]))
    stderr, took = signal_after_checkpoint(proc, tmp_path)
    assert took < 30 and proc.returncode != 0  # torchrun waits 30 s before it SIGKILLs its workers
    assert stderr.count("SIGTERM: checkpointed") == 2, stderr[-3000:]  # both workers, in step
    epoch, step = saved_position(tmp_path)
    assert (epoch, step) != (1, 0) and 0 <= step < 16
