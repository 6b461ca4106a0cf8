"""Preemption, divergence, a full disk and hostile files: one clear message, a non-zero exit, nothing lost."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from tests.helpers import TINY, run_train, start_train, wait_for


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_sigterm_checkpoints_mid_epoch_and_the_rerun_matches(cifar_root, tmp_path):
    # batch 8 -> 16 steps per epoch: SIGTERM lands inside an epoch.
    args = [
        *TINY,
        "trainer.epochs=4",
        "trainer.batch_size=8",
        "trainer.deterministic=true",
        f"dataset.root={cifar_root}",
    ]
    reference = tmp_path / "reference"
    assert run_train([*args, f"hydra.run.dir={reference}"]).returncode == 0

    run_dir = tmp_path / "preempted"
    proc = start_train([*args, f"hydra.run.dir={run_dir}"])
    wait_for(run_dir / "checkpoint.pt", proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 143, stderr[-2000:]
    assert "SIGTERM: checkpointed" in stderr and "Traceback" not in stderr
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert (state["state"]["epoch"], state["state"]["step"]) != (1, 0), "nothing was saved at the SIGTERM"
    assert run_train([*args, f"hydra.run.dir={run_dir}"]).returncode == 0
    a, b = (json.loads((d / "result.json").read_text()) for d in (reference, run_dir))
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    assert a["test_error"] == b["test_error"]


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_last_good_checkpoint(cifar_root, tmp_path):
    # 4 steps per epoch: global step 6 is epoch 2, step 2.
    args = [*TINY, "trainer.epochs=3", f"dataset.root={cifar_root}", f"hydra.run.dir={tmp_path}"]
    proc = run_train(args, CRELU_FAULT="nan_at_step:6")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [  # what is true: this run has a checkpoint (the NaN before
        "error: the loss became NaN/inf at epoch 2, step 2. Stopped; the last good checkpoint is kept: a "
        "rerun resumes from it (at epoch 2, step 0). Lower optim.lr."  # one does not: test_resume_checks)
    ]
    assert "the last good checkpoint is kept" in (tmp_path / "train.log").read_text()  # in the log too
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["state"]["epoch"] == 1 and all(
        torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point()
    )
    assert not (tmp_path / "result.json").exists()


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(cifar_root, tmp_path):
    args = [*TINY, "trainer.epochs=3", f"dataset.root={cifar_root}", f"hydra.run.dir={tmp_path}"]
    assert run_train(args, CRELU_FAULT="kill_after_checkpoint:1").returncode == -9
    before = (tmp_path / "checkpoint.pt").read_bytes()
    proc = run_train(args, CRELU_FAULT="enospc_in_write:checkpoint.pt")
    assert proc.returncode == 4
    assert "No space left on device" in proc.stderr and "previous checkpoint.pt is intact" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert not list(tmp_path.glob(".checkpoint.pt.tmp*"))  # no half-written leftovers
    assert run_train(args).returncode == 0  # space is back: the same command resumes and finishes
