"""torchrun with 2 gloo processes on CPU follows the 1-process run for the same global batch."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import TINY, run, run_train, torchrun_cmd


def torchrun(args: list[str], nproc: int = 2, timeout: float = 300) -> subprocess.CompletedProcess:
    return run(torchrun_cmd(args, nproc), timeout)


def test_two_gloo_processes_follow_the_single_process_trajectory(cifar_root, tmp_path):
    # No BN: per-process BN statistics are the one thing that legitimately differs between the two
    # (SyncBatchNorm needs CUDA). Without BN the net needs a small lr.
    args = [
        *TINY,
        "trainer.epochs=2",
        "model.batchnorm=false",
        "trainer.deterministic=true",
        "trainer.bf16=false",  # fp32: the tolerance below is fp32's (bf16 CPUs would round the two apart)
        "sched=constant",
        "optim.lr=0.001",
        f"dataset.root={cifar_root}",
    ]
    single = run_train([*args, f"hydra.run.dir={tmp_path / 'single'}"])
    assert single.returncode == 0, single.stderr[-3000:]
    double = torchrun([*args, f"hydra.run.dir={tmp_path / 'ddp'}"])
    assert double.returncode == 0, double.stderr[-3000:]

    a = json.loads((tmp_path / "single" / "result.json").read_text())
    b = json.loads((tmp_path / "ddp" / "result.json").read_text())
    assert b["world_size"] == 2 and a["world_size"] == 1
    losses_a = [h["train_loss"] for h in a["history"]]
    losses_b = [h["train_loss"] for h in b["history"]]
    assert losses_b == pytest.approx(losses_a, rel=1e-4)
    assert losses_a[1] < 0.9 * losses_a[0]  # the loss moved: the comparison means something
    assert b["test_error"] == pytest.approx(a["test_error"], abs=100 / 64 + 1e-9)  # at most one image apart
    # Rank 0 alone wrote outputs: one result, and no stray Hydra directories from rank 1.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_global_batch_not_divisible_by_processes_is_refused(cifar_root, tmp_path):
    proc = torchrun(
        [*TINY, "trainer.batch_size=33", f"dataset.root={cifar_root}", f"hydra.run.dir={tmp_path}"]
    )
    assert proc.returncode != 0
    assert "not divisible by the 2 processes" in proc.stderr
