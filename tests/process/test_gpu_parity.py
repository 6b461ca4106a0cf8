"""The suite runs the same on a machine with a GPU: the part that needs real processes (signals, exit
codes, subprocesses); the in-process tests are tests/unit/test_gpu_parity.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO, run_train, train_env


def test_a_test_that_forgets_the_device_fails_before_anything_runs(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="trainer.device"):
        run_train(["model=relu", f"hydra.run.dir={tmp_path}"])
    with pytest.raises(pytest.fail.Exception, match="--device"):
        subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark.py"), "--smoke"], env=train_env())
    assert not any(tmp_path.iterdir())
