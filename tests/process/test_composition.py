"""Bad models and sizes fail at composition, before any data is read or any folder made: the part that
needs real processes (signals, exit codes, subprocesses); the in-process tests are
tests/unit/test_composition.py."""

from __future__ import annotations

from tests.helpers import TINY, run_train
from tests.unit.test_composition import CASES, NO_DATA


def test_through_train_py_one_line_and_no_run_directory(tmp_path):
    overrides, message = CASES["all-cnn-b on cifar"]
    proc = run_train([*TINY, *NO_DATA, *overrides, f"hydra.run.dir={tmp_path / 'run'}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()  # Hydra made it before the check; now nothing is made
