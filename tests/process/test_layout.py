"""The modules a CIFAR run reads, and the lazy API: each in a fresh interpreter, since this one has imported
everything (issue 26). The package's structure is checked in-process: tests/unit/test_layout.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, train_env

MAX_RUN_MODULES = 35  # issue 26: one CIFAR run reads at most this many of the project's modules


RUN = """
import json, sys
from crelu_repro.run.compose import compose
from crelu_repro.train.trainer import train
cfg = compose(sys.argv[1:])
train(cfg)
print(json.dumps(sorted(m for m in sys.modules if m == "crelu_repro" or m.startswith("crelu_repro."))))
"""


def test_a_cifar_run_reads_few_modules_and_none_of_imagenets(cifar_root, tmp_path):
    """`train(cfg)` on a tiny CIFAR config, in a fresh interpreter (this one has imported everything)."""
    args = ["trainer.device=cpu", "trainer.epochs=1", "trainer.batch_size=32", "model=crelu_half",
            f"dataset.root={cifar_root}", f"out_dir={tmp_path / 'run'}"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *args], cwd=REPO, env=train_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (tmp_path / "run" / "result.json").is_file()
    assert not [m for m in modules if m.startswith("crelu_repro.data.imagenet")], modules
    assert len(modules) <= MAX_RUN_MODULES, f"{len(modules)} modules: {modules}"


def test_the_documented_api_imports_lazily():
    code = (
        "import sys, crelu_repro\n"
        "assert 'torch' not in sys.modules, 'import crelu_repro imported torch'\n"
        "from crelu_repro import vote, ten_patch_scores\n"
        "import numpy as np\n"
        "print(vote(np.array([[[0.9, 0.1]], [[0.2, 0.8]], [[0.7, 0.3]]])).tolist())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=train_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[0]"
    with pytest.raises(AttributeError):
        import crelu_repro

        crelu_repro.not_an_api  # noqa: B018
