"""Every config value is range-checked at composition, before any data is read: the part that needs real
processes (signals, exit codes, subprocesses); the in-process tests are
tests/unit/test_config_ranges.py."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import TINY, one_line_error, run_train, train_env


def test_train_py_refuses_before_reading_data_or_training(tmp_path):
    """Today's traceback came after all training (result.json never written): now nothing runs at all."""
    run_dir = tmp_path / "run"
    proc = run_train(
        [*TINY, "dataset.root=/nonexistent", "eval.train_error_images=-5", f"hydra.run.dir={run_dir}"]
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "error: invalid configuration: eval.train_error_images=-5: must be an integer >= 0"
    )
    assert not run_dir.exists()  # no checkpoint, no log, no folder: not even the data was looked at


def test_an_infinite_learning_rate_is_refused_before_the_run_folder(cifar_root, tmp_path):
    """`optim.lr=inf` passed `> 0`: a run folder was made and training stopped on a NaN loss (exit 3)."""
    run_dir = tmp_path / "run"
    proc = run_train([*TINY, f"dataset.root={cifar_root}", "optim.lr=inf", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2
    one_line_error(proc.returncode, proc.stderr, "optim.lr=inf: must be > 0 and finite")
    assert not run_dir.exists()


def test_a_sweep_with_an_invalid_job_starts_nothing_and_makes_no_folder(tmp_path):
    """Before: Hydra made each job's folder, the valid job trained and the invalid one left an error.json
    behind. Now the sweeper checks every job's config first: one message naming each invalid job (its number
    and overrides), exit 2, and neither the sweep's folder nor any job's exists."""
    sweep_dir = tmp_path / "multirun" / "mine"
    grid = ["model=crelu_half,relu", "optim.lr=0.1,-1"]
    proc = run_train(["-m", *TINY[:-1], *grid, "dataset.root=/nonexistent", f"hydra.sweep.dir={sweep_dir}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "2 of the sweep's 4 jobs have an invalid configuration; no job was started" in proc.stderr
    listed = {line.split()[0]: line for line in proc.stderr.splitlines()[1:]}  # "#<job> <overrides>: why"
    assert set(listed) == {"#1", "#3"}  # the jobs of lr=-1, in Hydra's order
    for job, model in (("#1", "crelu_half"), ("#3", "relu")):
        assert f" model={model} optim.lr=-1 " in listed[job]
        assert listed[job].endswith(": invalid configuration: optim.lr=-1.0: must be > 0 and finite")
    assert not (tmp_path / "multirun").exists()


def test_a_sweep_of_valid_jobs_still_runs(cifar_root, tmp_path):
    """The check before the sweep passes valid jobs through to the launcher unchanged."""
    sweep_dir = tmp_path / "sweep"
    proc = run_train(["-m", *TINY, f"dataset.root={cifar_root}", "dataset.limit_train=64",
                      "dataset.limit_test=64", "eval=kfold", "eval.fold=0,1",
                      f"hydra.sweep.dir={sweep_dir}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list(sweep_dir.rglob("result.json"))) == 2


def test_a_config_error_imports_neither_torchvision_nor_dynamo():
    """Both cost a process about 2 s before its first line (train.py took 3.9 s to a config error, now about
    2 s): only ImageNet decoding needs torchvision; dynamo only torch.compile, a backend that is not built
    in, or the shape trace of a valid config (batch norm on the meta device)."""
    code = (
        "import sys; from crelu_repro.run.compose import compose\n"
        "from crelu_repro.run.checks import validate\n"
        "try: validate(compose(['trainer.device=cpu', 'trainer.compile_backend=eager', 'optim.lr=-1']))\n"
        "except Exception as err: print(type(err).__name__)\n"
        "print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=train_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["ConfigError", "[]"]
