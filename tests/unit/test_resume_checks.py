"""A checkpoint is checked before it is resumed (its network's structure, its position), data that cannot
train is named, and a run's failure messages say what is true (and go to its train.log too)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from crelu_repro.core import faults
from crelu_repro.core.errors import ConfigError, DatasetError, TrainingError
from crelu_repro.core.results import read_result
from crelu_repro.models import builder
from crelu_repro.models.variants import FAMILIES
from crelu_repro.train import checkpoint
from tests.helpers import TINY, train_in_process
from tests.helpers.cifar import write_cifar


@pytest.fixture
def run_dir(stopped_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(stopped_run, copy)
    return copy


def resume(cifar_root, run_dir: Path) -> dict:
    return train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)


def untouched(run_dir: Path):
    """The run's files now, to compare after a refusal: nothing may be overwritten."""
    return {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and "tb" not in p.parts}


def test_a_checkpoint_of_another_network_layout_is_one_line_and_kept(cifar_root, tmp_path, monkeypatch):
    """The same config, trained by a code version whose ConvPool-CNN-C had 48 filters in conv1, then resumed
    by this one: a `size mismatch` traceback from load_state_dict (or a KeyError) before."""
    run_dir = tmp_path / "run"
    older = (builder.Conv(48, 3, 1, 1), *FAMILIES["convpool"][1:])
    with monkeypatch.context() as m:
        m.setitem(FAMILIES, "convpool", older)
        train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)
    (run_dir / "result.json").unlink()
    before = untouched(run_dir)
    with pytest.raises(ConfigError) as err:
        resume(cifar_root, run_dir)
    assert str(err.value).startswith(
        f"{run_dir / 'checkpoint.pt'} holds a network of another structure than this code builds for the "
        "same config (the code changed since it was written?): layers.conv1.conv.weight: [24, 3, 3, 3] in "
        "the checkpoint, [48, 3, 3, 3] now;"  # crelu_half: conv1 at width 0.5
    )
    assert "It will not be resumed or overwritten" in str(err.value) and "\n" not in str(err.value)
    assert untouched(run_dir) == before  # not the checkpoint, not .hydra, not train.log


def test_a_checkpoint_of_the_previous_format_is_named(run_dir, cifar_root):
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    del ckpt["network"]
    ckpt["format"] = 2
    torch.save(ckpt, run_dir / "checkpoint.pt")
    with pytest.raises(
        ConfigError, match=r"not a checkpoint this trainer can resume \(format 2, this trainer"
    ):
        resume(cifar_root, run_dir)


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"epoch": 50}, "an inconsistent position: epoch 50, step 0, 2 epochs of history, for a run of "
         "trainer.epochs=2"),
        ({"epoch": 1, "step": 3}, "an inconsistent position: epoch 1, step 3, 2 epochs of history"),
        ({"epoch": -1}, "an inconsistent position: epoch -1"),
        ({"sums": None}, "a training state without sums"),
    ],
)  # fmt: skip
def test_an_edited_checkpoint_is_refused_not_finished(run_dir, cifar_root, edit, message):
    """Epoch 50 of 2 used to "finish" at once with the old weights (and write a result)."""
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    for key, value in edit.items():
        if value is None:
            ckpt["state"].pop(key)
        else:
            ckpt["state"][key] = value
    torch.save(ckpt, run_dir / "checkpoint.pt")
    before = untouched(run_dir)
    with pytest.raises(ConfigError, match="It will not be resumed or overwritten") as err:
        resume(cifar_root, run_dir)
    assert message in str(err.value)
    assert untouched(run_dir) == before and read_result(run_dir) is None


def test_a_step_beyond_the_epoch_is_refused(run_dir, cifar_root):
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    ckpt["state"].update(epoch=1, step=1000, history=ckpt["state"]["history"][:1])
    torch.save(ckpt, run_dir / "checkpoint.pt")
    with pytest.raises(ConfigError, match="holds step 1000 of an epoch of 4 steps"):
        resume(cifar_root, run_dir)
    assert read_result(run_dir) is None


def _constant_images(root: Path) -> None:
    folder = write_cifar(root, "cifar10", n_train=128, n_test=64)
    for path in [*folder.glob("data_batch_*"), folder / "test_batch"]:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")  # our own fixture file
        batch["data"] = np.zeros_like(batch["data"])
        with open(path, "wb") as f:
            pickle.dump(batch, f, protocol=2)


def test_all_zero_images_are_named_not_a_nan(tmp_path):
    """They gave "the loss became NaN ... the last good checkpoint is kept ... Lower optim.lr", with no
    checkpoint anywhere."""
    _constant_images(tmp_path / "data")
    with pytest.raises(DatasetError) as err:
        train_in_process(*TINY, f"dataset.root={tmp_path / 'data'}", out=tmp_path / "run")
    assert "training images under" in str(
        err.value
    ) and "have zero variance in channel R (all 0), G (all 0)" in str(err.value)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert "zero variance" in (tmp_path / "run" / "train.log").read_text()  # the error is in the log too


def test_a_nan_before_any_checkpoint_says_none_is_kept(cifar_train, tmp_path, monkeypatch):
    monkeypatch.setattr(faults, "_point", "nan_at_step")
    monkeypatch.setattr(faults, "_n", 2)  # epoch 1, step 2: no checkpoint exists yet
    with pytest.raises(TrainingError) as err:
        cifar_train("trainer.epochs=3")
    assert str(err.value) == (
        "the loss became NaN/inf at epoch 1, step 2. Stopped; no checkpoint was written before it, so a "
        "rerun starts afresh. Check the data, or lower optim.lr."
    )
    assert not (tmp_path / "run" / checkpoint.CHECKPOINT).exists()
    assert (
        "[ERROR] the loss became NaN/inf at epoch 1, step 2" in (tmp_path / "run" / "train.log").read_text()
    )
