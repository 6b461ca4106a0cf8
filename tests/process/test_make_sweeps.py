"""The Makefile's sweep root is one path: `make tensorboard TABLE=<table>` hands `multirun/<table>` (or
`multirun/quick/<table>`) to the dashboard and to TensorBoard as one argument (a comment after SWEEPS's
value once made it `multirun  /<table>`, two arguments). `make -n`: nothing is run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, train_env


@pytest.mark.parametrize(("quick", "root"), [([], "multirun"), (["QUICK=1"], "multirun/quick")])
def test_make_tensorboard_gets_one_sweep_path(quick, root):
    venv = Path(sys.executable).parent.parent
    stamp = f"{venv}/.installed-stamp"  # taken as made: make -n prints no install
    cmd = ["make", "-n", "-o", stamp, "tensorboard", f"VENV={venv}", "TABLE=convpool", *quick]
    done = subprocess.run(cmd, cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"crelu_repro.train.dashboard {root}/convpool --title" in done.stdout, done.stdout
    assert f"--logdir {root}/convpool --host" in done.stdout, done.stdout
