"""What a run directory holds is checked before it is trusted: a resume on other data is refused, files that
are ours in name but not in content get a message, and a directory that cannot be written is one line."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from crelu_repro.core.errors import ConfigError, CreluError
from crelu_repro.core.results import read_result
from crelu_repro.train.run_dir import OWN_FOLDERS, OWN_NAMES
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


@pytest.mark.parametrize("name", OWN_NAMES)
def test_the_wrong_kind_at_a_run_name_is_named_and_left(cifar_root, tmp_path, name):
    """A folder named result.json gave an IsADirectoryError traceback; a file named .hydra "cannot create
    ... (File exists); fix the permissions" (exit 4). Now: what stands there, what goes there; nothing
    made."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    folder = name in OWN_FOLDERS
    (run_dir / name).touch() if folder else (run_dir / name).mkdir()
    found, want = ("a file", f"the folder {name}/") if folder else ("a folder", f"the file {name}")
    with pytest.raises(CreluError) as err:
        train_in_process(*TINY, f"dataset.root={cifar_root}", out=run_dir)
    assert err.value.exit_code == 2
    expected = f"{run_dir / name} is {found}, where the run keeps {want}; move it away and rerun"
    assert str(err.value) == expected
    assert [p.name for p in run_dir.iterdir()] == [name]  # no lock, no log, no .hydra: nothing made
    assert (run_dir / name).is_file() == folder  # and it is left as it was


def test_a_sweep_counts_a_folder_named_result_json_as_failed_with_its_message(cifar_root, tmp_path):
    """In a sweep the same folder gave `IsADirectoryError: [Errno 21] Is a directory: 3`."""
    from crelu_repro.run.compose import compose
    from crelu_repro.run.sweep import SweepLog
    from crelu_repro.train.trainer import train

    run_dir = tmp_path / "sweep" / "0"
    (run_dir / "result.json").mkdir(parents=True)
    log = SweepLog()
    outcome = log.run(compose([*TINY, f"dataset.root={cifar_root}", f"out_dir={run_dir}"]), train)
    assert outcome.kind == "failed" and log.failed == [(str(run_dir), outcome.message)]
    assert f"{run_dir / 'result.json'} is a folder, where the run keeps the file" in outcome.message
    assert (run_dir / "result.json").is_dir()
