"""The environment a run reads (torchrun's variables, CRELU_FAULT, CRELU_DATA) is checked before anything
else: the part that needs real processes (signals, exit codes, subprocesses); the in-process tests are
tests/unit/test_environment.py."""

from __future__ import annotations

import signal

import pytest

from crelu_repro.core.results import read_result
from tests.helpers import TINY, run_train, signal_after_checkpoint, start_train
from tests.unit.test_environment import BAD


@pytest.mark.parametrize("case", ["a stray RANK", "a world without torchrun", "an empty CRELU_DATA"])
def test_through_train_py_one_line_and_nothing_written_anywhere(cifar_root, tmp_path, case):
    """A stray RANK=1 used to train silently into $TMPDIR (exit 0, no output); WORLD_SIZE=2 without torchrun
    was a traceback; CRELU_DATA= made the current folder the data root."""
    env, expected = BAD[case]
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    root = [] if "CRELU_DATA" in env else [f"dataset.root={cifar_root}"]
    proc = run_train([*TINY, *root, f"hydra.run.dir={tmp_path / 'run'}"], TMPDIR=str(tmpdir), **env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert not (tmp_path / "run").exists() and not list(tmpdir.iterdir())  # nothing written anywhere


@pytest.mark.parametrize(
    "sig", [signal.SIGHUP, pytest.param(signal.SIGUSR2, marks=pytest.mark.slow)], ids=["SIGHUP", "SIGUSR2"]
)
def test_sighup_and_sigusr2_checkpoint_like_sigterm(cifar_root, tmp_path, sig):
    """SIGHUP (the terminal closed) used to kill the run at once, the epoch's progress lost; SIGUSR2 is
    SLURM's warning before a time limit through submitit."""
    run_dir = tmp_path / "run"
    proc = start_train([*TINY, "trainer.batch_size=8", "trainer.epochs=20", f"dataset.root={cifar_root}",
                        f"hydra.run.dir={run_dir}"])  # fmt: skip
    stderr, _ = signal_after_checkpoint(proc, run_dir, sig)
    assert proc.returncode == 143 and f"{sig.name}: checkpointed {run_dir} at epoch" in stderr, stderr
    assert "Traceback" not in stderr and read_result(run_dir) is None
    assert f"{sig.name}: checkpointed" in (run_dir / "train.log").read_text()  # the stop is in the log too
