"""A run directory has one owner, and no config value moves a sweep's runs outside its sweep directory."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.results import read_result
from tests.helpers import TINY, run_train, start_train, train_in_process


def wait_for_owner(run_dir: Path, proc, timeout: float = 120) -> str:
    """The lock file's text once the owner has written its PID into it."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        text = (run_dir / ".lock").read_text() if (run_dir / ".lock").exists() else ""
        if text.strip():
            return text
        time.sleep(0.05)
    raise AssertionError(f"no owner appeared in {run_dir}: {proc.stderr.read() if proc.poll() else ''}")


def test_a_second_process_is_refused_at_once_naming_the_owner(cifar_root, tmp_path):
    run_dir = tmp_path / "D"
    base = [*TINY, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}", "trainer.batch_size=8"]
    # The owner cannot finish during the test (1000 epochs): a second process that waited for the lock
    # would wait forever. So the order of events says "at once", whatever the machine's load: the second
    # exits (75) while the owner still trains.
    owner = start_train([*base, "seed=0", "trainer.epochs=1000"])
    try:
        assert f"process {owner.pid} " in wait_for_owner(run_dir, owner)
        second = run_train([*base, "seed=1", "trainer.epochs=30"], timeout=600)
        assert owner.poll() is None  # the second ended first, and left the owner alone
        assert second.returncode == 75 and "Traceback" not in second.stderr
        assert f"{run_dir} is being trained by process {owner.pid}" in second.stderr
        # A SIGKILLed owner leaves no stale lock: the same command resumes.
        os.killpg(owner.pid, signal.SIGKILL)
        owner.wait()
        resumed = run_train([*base, "seed=0", "trainer.epochs=2"], timeout=300)
        assert "different configuration" in resumed.stderr  # the lock was free; the config check spoke
        assert "being trained" not in resumed.stderr
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
    assert read_result(run_dir) is None  # seed 1 never wrote into seed 0's run


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_two_sweeps_over_one_sweep_dir_train_each_run_once(cifar_root, tmp_path):
    sweep_dir = tmp_path / "sweep"
    grid = ["-m", "experiment=convpool", "model=relu,crelu_half,avr", "dataset=cifar10", "eval.models=2"]
    args = [*grid, f"dataset.root={cifar_root}", f"hydra.sweep.dir={sweep_dir}", *TINY[:-1]]
    first, second = start_train(args), start_train(args)
    outputs = [p.communicate(timeout=900) for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), [o[1][-2000:] for o in outputs]
    counts = [
        re.search(r"sweep: (\d+) trained, (\d+) skipped .*?, (\d+) busy", err).groups() for _, err in outputs
    ]
    trained = sum(int(c[0]) for c in counts)
    assert trained == 6, counts  # every run trained exactly once, by one of the two sweeps
    assert all(sum(map(int, c)) == 6 for c in counts), counts  # the other skipped it, or found it busy
    logs = sorted(sweep_dir.rglob("train.log"))
    assert len(logs) == 6 and all(log.read_text().count("training ") == 1 for log in logs)


def test_a_relative_path_never_moves_a_sweeps_runs(cifar_root, tmp_path):
    """The default subdir was `<job>_<overrides>`: `dataset.root=../../x` put runs outside the sweep dir."""
    sweep_dir = tmp_path / "S"
    relative = os.path.relpath(
        cifar_root, Path(__file__).resolve().parents[2]
    )  # from the repo root: ../../..
    assert relative.startswith("..")
    sweep = ["-m", "model=relu,crelu_half", f"dataset.root={relative}", f"hydra.sweep.dir={sweep_dir}"]
    proc = run_train([*sweep, *TINY[:-1]], timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = sorted(p.parent for p in tmp_path.rglob("result.json"))
    assert [r.parent for r in runs] == [sweep_dir] * 2  # one component each, inside the sweep dir
    assert [r.name.split(",")[0] for r in runs] == ["0_model=relu", "1_model=crelu_half"]
    assert "dataset.root" not in runs[0].name  # paths are not part of a run's name
    assert read_result(runs[0]).config["dataset"]["root"] == str(cifar_root)  # made absolute before use


@pytest.mark.parametrize("value", ["../../../escaped", "/abs/olute", "a/b"])
def test_no_model_name_can_become_a_path(cifar_root, tmp_path, value):
    with pytest.raises(ConfigError, match=re.escape(f"model.name={value!r}")):
        train_in_process(*TINY, f"model.name={value}", f"dataset.root={cifar_root}", out=tmp_path / "r")
    assert list(tmp_path.iterdir()) == []
    if value != "../../../escaped":
        return  # through train.py once: the same check, before Hydra makes the run directory
    proc = run_train(
        [*TINY, f"model.name={value}", f"dataset.root={cifar_root}", f"hydra.run.dir={tmp_path}/r"]
    )
    assert proc.returncode == 2 and f"model.name={value!r}" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # refused before Hydra made the run directory
