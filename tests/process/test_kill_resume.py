"""Kill anywhere: SIGKILL a deterministic CPU run at a fault point, rerun the same command, and the final
result equals an uninterrupted run's. The checkpoint is never unreadable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crelu_repro.core.results import deterministic_part, read_result
from crelu_repro.train import checkpoint
from tests.helpers import TINY, run_train

# 128 images / batch 32 = 4 steps per epoch, 3 epochs = 12 global steps.
ARGS = [*TINY, "trainer.epochs=3", "trainer.deterministic=true"]


def comparable(run_dir) -> dict:
    return deterministic_part(read_result(run_dir))


@pytest.fixture(scope="module")
def reference(cifar_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference")
    proc = run_train([*ARGS, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir


def kill_and_resume(fault: str, cifar_root, run_dir, extra=()) -> None:
    args = [*ARGS, *extra, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"]
    killed = run_train(args, CRELU_FAULT=fault)
    assert killed.returncode == -9, f"the fault {fault} did not fire: {killed.stderr[-2000:]}"
    assert not (run_dir / "result.json").exists()
    assert not list(run_dir.glob(".*.tmp*")) or fault.startswith(
        "kill_in_write"
    )  # only a killed write leaves one
    if (run_dir / "checkpoint.pt").exists():  # never unreadable: it loads, safely, whatever the kill point
        state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
        assert set(checkpoint.KEYS) <= set(state) and {"epoch", "step"} <= set(state["state"])
    resumed = run_train(args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_kill_inside_the_checkpoint_write(reference, cifar_root, tmp_path):
    # The second checkpoint's temp file is written, then the process dies before the rename.
    run_dir = tmp_path / "run"
    args = [*ARGS, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"]
    first = run_train(args, CRELU_FAULT="kill_after_checkpoint:1")
    assert first.returncode == -9
    epoch_one = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    second = run_train(args, CRELU_FAULT="kill_in_write:checkpoint.pt")
    assert second.returncode == -9
    survivor = torch.load(run_dir / "checkpoint.pt", weights_only=True)  # the previous one, intact
    assert survivor["state"]["epoch"] == epoch_one["state"]["epoch"] == 1
    assert run_train(args).returncode == 0
    assert comparable(run_dir) == comparable(reference)
    np.testing.assert_array_equal(
        np.load(run_dir / "test_scores.npy"), np.load(reference / "test_scores.npy")
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault, extra",
    [
        ("kill_at_step:2", ()),  # mid-epoch, before any checkpoint
        ("kill_after_checkpoint:1", ()),  # right after the first checkpoint
        ("kill_at_step:6", ()),  # mid-epoch 2
        ("kill_at_step:7", ("trainer.checkpoint_every_steps=3",)),  # after a mid-epoch checkpoint
        ("kill_in_write:test_scores.npy", ()),  # training done, outputs being written
        ("kill_in_write:result.json", ()),  # the very last write
    ],
)
def test_kill_anywhere_then_resume_equals_uninterrupted(reference, cifar_root, tmp_path, fault, extra):
    run_dir = tmp_path / "run"
    kill_and_resume(fault, cifar_root, run_dir, extra)
    assert comparable(run_dir) == comparable(reference)
    np.testing.assert_array_equal(
        np.load(run_dir / "test_scores.npy"), np.load(reference / "test_scores.npy")
    )
