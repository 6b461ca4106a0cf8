"""Bad dataset input gives one clear DatasetError that says what to do: malformed CIFAR labels, and files
and folders we may not read (permission denied: fix the permissions, never "delete it").

Permission tests: this sandbox and CI run as root, which `chmod 000` does not stop, so the denial is made
in-process instead: the OS call that a real unreadable file or folder fails (open, os.stat) is patched to
raise PermissionError(EACCES) for that path, as the kernel would.
"""

from __future__ import annotations

import builtins
import errno
import os
import pickle
from pathlib import Path

import pytest
from cifar_fixture import write_cifar
from conftest import TINY, run_train

from crelu_repro.data.cifar import load_cifar
from crelu_repro.errors import DatasetError

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*not the official:UserWarning",  # the tiny fixtures are not the official CIFAR release
)
MALFORMED = "is not a list of integers, so it is not a CIFAR python-version file"


def _nested(depth: int) -> list:
    x: int | list = 1
    for _ in range(depth):
        x = [x]
    return x  # type: ignore[return-value]


def _set_labels(folder: Path, file: str, labels: object) -> None:
    with open(folder / file, "rb") as f:
        d = pickle.load(f, encoding="latin1")  # trusted: written by the fixture
    d["labels"] = labels
    with open(folder / file, "wb") as f:
        pickle.dump(d, f, protocol=2)


def _deny(exc_path: str) -> PermissionError:
    return PermissionError(errno.EACCES, os.strerror(errno.EACCES), exc_path)


def _assert_permission_advice(err: DatasetError, path: Path) -> None:
    msg = str(err)
    assert "permission denied" in msg and str(path) in msg and "chmod" in msg, msg
    assert "delete" not in msg.lower() and "corrupt" not in msg.lower(), msg


RAGGED = {
    "ragged": lambda n: [[1, 2], *[3] * (n - 1)],
    "nested past numpy's dimension limit": lambda n: [_nested(70)] * n,  # 40 deep did it on numpy 1.x
    "one deep among ints": lambda n: [_nested(40), *[0] * (n - 1)],
}


@pytest.mark.parametrize("labels", RAGGED.values(), ids=RAGGED.keys())
def test_ragged_or_deeply_nested_labels_are_malformed(tmp_path, labels):
    folder = write_cifar(tmp_path, n_train=20, n_test=10)
    _set_labels(folder, "data_batch_2", labels(4))
    with pytest.raises(DatasetError, match=f"data_batch_2 has 'labels' that {MALFORMED}"):
        load_cifar("cifar10", tmp_path)


def test_ragged_labels_through_train_py_are_one_line(tmp_path):
    folder = write_cifar(tmp_path / "data", n_train=20, n_test=10)
    _set_labels(folder, "test_batch", RAGGED["ragged"](10))
    proc = run_train([*TINY, f"dataset.root={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"])
    assert proc.returncode != 0 and "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "test_batch" in lines[0] and MALFORMED in lines[0], proc.stderr


def test_cifar_file_without_read_permission(tmp_path, monkeypatch):
    folder = write_cifar(tmp_path)
    denied = folder / "data_batch_3"
    real_open = builtins.open

    def open_(file, *args, **kwargs):
        if os.fspath(file) == str(denied):
            raise _deny(str(denied))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    with pytest.raises(DatasetError) as err:
        load_cifar("cifar10", tmp_path, download=False)
    _assert_permission_advice(err.value, denied)


def test_cifar_folder_without_permission(tmp_path, monkeypatch):
    folder = write_cifar(tmp_path)
    real_stat = os.stat

    def stat(path, *args, **kwargs):  # what stat() of a file in a folder without search (x) permission does
        if os.path.dirname(os.fspath(path)) == str(folder):
            raise _deny(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(DatasetError) as err:
        load_cifar("cifar10", tmp_path, download=True)  # and no download over the top of it
    _assert_permission_advice(err.value, folder)
