"""Fixtures, defined once for both tiers (tests/unit: in-process logic; tests/process: real processes):
a tiny canonical CIFAR tree, a tiny ImageNet tree, runs trained once per session, a Hydra composer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from tests.helpers import IMAGENET_WNIDS, TINY, train_in_process, unpinned_device
from tests.helpers.cifar import write_cifar
from tests.helpers.imagenet import write_imagenet

torch.set_num_threads(1)  # in-process runs compute as the subprocesses (OMP_NUM_THREADS=1) and share 2 cores


@pytest.fixture(scope="module")
def composer():
    """compose(*overrides, return_hydra_config=...) inside one Hydra initialization per test module."""
    from hydra import compose, initialize_config_dir

    from crelu_repro.core.paths import CONFIG_DIR
    from crelu_repro.run.compose import register

    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        yield lambda *overrides, **kw: compose("train", overrides=list(overrides), **kw)


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory) -> Path:
    """CIFAR-10 and CIFAR-100 in the canonical layout: 128 train / 64 test images each."""
    root = tmp_path_factory.mktemp("data")
    write_cifar(root, "cifar10", n_train=128, n_test=64)
    write_cifar(root, "cifar100", n_train=128, n_test=64)
    return root


@pytest.fixture(scope="session", autouse=True)
def device_pinned():
    """Fails any test that starts a training process without naming its device (see train_env)."""
    real_init = subprocess.Popen.__init__

    def init(self, args, *rest, **kw):
        if problem := unpinned_device(args):
            pytest.fail(f"a test started {problem}; tests pin the device so they run the same on a GPU")
        real_init(self, args, *rest, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "__init__", init)
        yield


@pytest.fixture
def cifar_train(cifar_root, tmp_path):
    """`cifar_train(*overrides, out=...) -> result`: a TINY in-process run on the CIFAR fixture (into
    tmp_path/run unless `out` is given); the logic tier, like lightning-hydra-template's cfg_train."""

    def go(*overrides: str, out: Path | None = None) -> dict:
        return train_in_process(*TINY, f"dataset.root={cifar_root}", *overrides, out=out or tmp_path / "run")

    return go


@pytest.fixture(scope="session")
def finished_run(cifar_root, tmp_path_factory) -> Path:
    """One finished 2-epoch CIFAR-10 run directory, shared by the output and dashboard tests."""
    run_dir = tmp_path_factory.mktemp("runs") / "finished"
    train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)
    return run_dir


@pytest.fixture(scope="session")
def stopped_run(cifar_root, tmp_path_factory) -> Path:
    """A TINY run whose 2 epochs are trained and checkpointed, its outputs not yet written: what a resume
    starts from. Copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("stopped") / "run"
    train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)
    for name in ("result.json", "test_scores.npy", "test_labels.npy"):
        (run_dir / name).unlink()
    return run_dir


@pytest.fixture(scope="session")
def imagenet_root(tmp_path_factory) -> Path:
    return write_imagenet(
        tmp_path_factory.mktemp("imagenet"), per_class=4, val_per_class=2, wnids=IMAGENET_WNIDS
    )
