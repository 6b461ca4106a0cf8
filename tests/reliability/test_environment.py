"""The environment a run reads (torchrun's variables, CRELU_FAULT, CRELU_DATA) is checked before anything
else: a malformed or stray value is one line and a non-zero exit, and outputs never go elsewhere. Every stop
signal a cluster or a terminal sends (SIGTERM, SIGINT, SIGHUP, SIGUSR2) makes the run checkpoint."""

from __future__ import annotations

import signal

import pytest
from conftest import TINY, run_train, signal_after_checkpoint, start_train

from crelu_repro.errors import ConfigError
from crelu_repro.results import read_result

BAD = {
    "a stray RANK": ({"RANK": "1"}, "RANK=1 is set, but WORLD_SIZE is unset: this process is not part of a"),
    "RANK 1 of 1": ({"RANK": "1", "WORLD_SIZE": "1"}, "RANK=1 is set, but WORLD_SIZE is 1"),
    "a word for RANK": ({"RANK": "one"}, "RANK='one': must be a whole number >= 0"),
    "a negative RANK": ({"RANK": "-1", "WORLD_SIZE": "2"}, "RANK='-1': must be a whole number >= 0"),
    "RANK past the world": (
        {"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "x", "MASTER_PORT": "1"},
        "RANK=2: must be below WORLD_SIZE=2",
    ),
    "no world": ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0': must be a whole number >= 1"),
    "a world without torchrun": (
        {"WORLD_SIZE": "2"},
        "WORLD_SIZE=2, but RANK, MASTER_ADDR, MASTER_PORT are not",
    ),
    "no rendezvous": ({"WORLD_SIZE": "2", "RANK": "0"}, "WORLD_SIZE=2, but MASTER_ADDR, MASTER_PORT are not"),
    "a word for LOCAL_RANK": ({"LOCAL_RANK": "x"}, "LOCAL_RANK='x': must be a whole number >= 0"),
    "a word for the timeout": (
        {"CRELU_DIST_TIMEOUT_S": "soon"},
        "CRELU_DIST_TIMEOUT_S='soon': must be a number",
    ),
    "an unknown fault": ({"CRELU_FAULT": "explode"}, "CRELU_FAULT='explode' is not a fault point"),
    "a fault at no step": ({"CRELU_FAULT": "kill_at_step:soon"}, "'kill_at_step:soon' is not a fault point"),
    "a fault without its step": ({"CRELU_FAULT": "nan_at_step:"}, "'nan_at_step:' is not a fault point"),
    "an empty CRELU_DATA": ({"CRELU_DATA": ""}, "CRELU_DATA='' is set but empty, so the data root would be"),
}


@pytest.mark.parametrize("env, expected", BAD.values(), ids=BAD.keys())
def test_a_bad_environment_is_refused_before_anything(cifar_train, tmp_path, monkeypatch, env, expected):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        cifar_train()
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


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
