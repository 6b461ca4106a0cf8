"""What a run directory holds is checked before it is trusted: a resume on other data is refused, files that
are ours in name but not in content get a message, and a directory that cannot be written is one line."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.results import read_result
from tests.helpers import TINY, train_in_process
from tests.helpers.cifar import write_cifar


@pytest.fixture
def unfinished(cifar_root, tmp_path) -> Path:
    """A run with a checkpoint but no result (as if it had been stopped after its last epoch)."""
    run_dir = tmp_path / "run"
    train_in_process(*TINY, f"dataset.root={cifar_root}", out=run_dir)
    (run_dir / "result.json").unlink()
    return run_dir


def test_a_resume_on_different_data_is_refused_showing_both(unfinished, tmp_path):
    other = tmp_path / "other"
    write_cifar(other, "cifar10", n_train=128, n_test=64, seed=1)  # same shapes and counts, other pixels
    with pytest.raises(ConfigError, match="trained on different data") as err:
        train_in_process(*TINY, f"dataset.root={other}", out=unfinished)
    assert "checkpoint:" in str(err.value) and "now:" in str(err.value) and "md5" in str(err.value)
    assert read_result(unfinished) is None  # nothing trained on the other data


def test_the_same_files_moved_elsewhere_still_resume(unfinished, cifar_root, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(cifar_root, moved)
    result = train_in_process(*TINY, f"dataset.root={moved}", out=unfinished)
    assert not result.get("skipped") and result["data_fingerprint"]["kind"] == "cifar10"


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (shutil.copy, (__file__, self.marker))  # would run at unpickling time


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch on the hostile file
def test_a_hostile_checkpoint_is_refused_not_executed(cifar_root, tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "checkpoint.pt", "wb") as f:
        pickle.dump({"model": _Exploit(str(marker))}, f)
    with pytest.raises(ConfigError, match=r"checkpoint.pt cannot be read \(it holds Python objects") as err:
        train_in_process(*TINY, f"dataset.root={cifar_root}", out=tmp_path)
    assert "\n" not in str(err.value) and str(err.value).endswith("Move it away to start this run afresh.")
    assert not marker.exists()
