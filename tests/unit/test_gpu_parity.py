"""The suite runs the same on a machine with a GPU: tests name their device and cannot reach CUDA."""

from __future__ import annotations

import pytest

from tests.helpers import IMAGENET_ARGS, TINY, train_env, unpinned_device


def test_the_shared_argument_lists_pin_the_cpu():
    assert "trainer.device=cpu" in TINY and "trainer.device=cpu" in IMAGENET_ARGS
    assert TINY[-1].startswith("model="), "sweeps drop the model with TINY[:-1]"


def test_test_processes_cannot_see_a_gpu():
    assert train_env()["CUDA_VISIBLE_DEVICES"] == ""
    assert train_env(CUDA_VISIBLE_DEVICES="0")["CUDA_VISIBLE_DEVICES"] == "0"  # a test meant for CUDA


@pytest.mark.parametrize(
    "cmd, wrong",
    [
        (["python", "train.py", "model=relu"], "train.py"),
        (["python", "-m", "torch.distributed.run", "/r/train.py", "-m", "seed=0,1"], "train.py"),
        ("python train.py model=relu", "train.py"),
        (["python", "scripts/benchmark.py", "--smoke"], "benchmark.py"),
        (["python", "train.py", "trainer.device=cpu"], None),
        (["python", "scripts/benchmark.py", "--device", "cpu"], None),
        (["python", "scripts/figures.py"], None),
    ],
)
def test_unpinned_command_lines_are_recognised(cmd, wrong):
    problem = unpinned_device(cmd)
    assert (problem is None) if wrong is None else (wrong in problem)
