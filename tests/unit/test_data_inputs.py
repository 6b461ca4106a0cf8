"""Bad dataset input gives one clear DatasetError that says what to do: malformed CIFAR labels, files and
folders we may not read (permission denied: fix the permissions, never "delete it"), and JPEG
decompression bombs (counted as unreadable, with the reason, and never decoded).

Permission tests: this sandbox and CI run as root, which `chmod 000` does not stop, so the denial is made
in-process instead: the OS call that a real unreadable file or folder fails (open, os.stat, os.scandir,
np.fromfile) is patched to raise PermissionError(EACCES) for that path, as the kernel would.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from crelu_repro.core.errors import DatasetError
from crelu_repro.data.cifar.reader import load_cifar
from crelu_repro.data.imagenet.loader import ImageNetLoader, scan_imagenet
from tests.helpers import TINY, train_in_process
from tests.helpers.cifar import write_cifar
from tests.helpers.imagenet import WNIDS, class_image, write_imagenet

pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding:DeprecationWarning",  # torchvision 0.29's JPEG decoders
    "ignore:.*not the official:UserWarning",  # the tiny fixtures are not the official CIFAR release
)
CPU = torch.device("cpu")
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


@pytest.mark.parametrize("where", ["train", "val", "class folder"])
def test_imagenet_folder_without_read_permission(tmp_path, monkeypatch, where):
    root = write_imagenet(tmp_path, per_class=1, val_per_class=1)
    denied = root / "train" / WNIDS[1] if where == "class folder" else root / where
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(denied):
            raise _deny(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DatasetError) as err:
        scan_imagenet(root)
    _assert_permission_advice(err.value, denied)


def test_unreadable_jpeg_is_counted_with_its_reason(tmp_path, monkeypatch):
    split = scan_imagenet(write_imagenet(tmp_path)).train  # 18 files
    denied = {split.paths[3], split.paths[11]}
    real_fromfile = np.fromfile

    def fromfile(file, *args, **kwargs):
        if os.fspath(file) in denied:
            raise _deny(os.fspath(file))
        return real_fromfile(file, *args, **kwargs)

    monkeypatch.setattr(np, "fromfile", fromfile)
    loader = ImageNetLoader(split.paths[:12], split.labels[:12], CPU, num_workers=0, train=False)
    with pytest.raises(DatasetError) as err:  # 2 of 12: above the 0.1% budget
        list(loader.eval_batches(6))
    assert sorted(loader.unreadable) == sorted(denied)
    assert all(loader.unreadable_reasons[p].startswith("permission denied") for p in denied)
    assert "permission" in str(err.value) and "delete" not in str(err.value).lower()


def _bomb(width: int, height: int) -> bytes:
    """A real 16x16 JPEG whose frame header (SOF0) claims width x height: ~600 bytes."""
    buf = io.BytesIO()
    class_image(0, 16, 16, seed=0).save(buf, "JPEG", quality=90)
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")  # FF C0, length (2), precision (1), height (2), width (2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("decode", ["workers", "device"])
def test_decompression_bomb_is_unreadable_and_never_decoded(tmp_path, monkeypatch, decode):
    from crelu_repro.data.imagenet import jpeg

    split = scan_imagenet(write_imagenet(tmp_path, per_class=2, val_per_class=1)).train  # 6 files
    bomb = _bomb(65500, 65500)
    Path(split.paths[2]).write_bytes(bomb)
    seen: list[bytes] = []  # the files each decoder was given
    real_decode, real_open = jpeg.decode_jpeg, Image.open

    def decode_jpeg(data, *args, **kwargs):
        seen.extend(bytes(t.numpy()) for t in (data if isinstance(data, list) else [data]))
        if any(s == bomb for s in seen):
            raise RuntimeError("the bomb reached libjpeg/nvJPEG")  # refuse: decoding it takes ~13 GB
        return real_decode(data, *args, **kwargs)

    def open_(fp, *args, **kwargs):
        seen.append(fp.getvalue() if isinstance(fp, io.BytesIO) else Path(fp).read_bytes())
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(jpeg, "decode_jpeg", decode_jpeg)
    monkeypatch.setattr(Image, "open", open_)
    loader = ImageNetLoader(split.paths, split.labels, CPU, num_workers=0, train=False, decode=decode)
    assert sum(len(y) for _, y in loader.eval_batches(3)) == 5  # one bad file alone: skipped, not fatal
    assert loader.unreadable == [split.paths[2]]
    reason = loader.unreadable_reasons[split.paths[2]]
    assert reason == "65500 x 65500 pixels exceeds dataset.max_pixels=89478485"
    assert bomb not in seen and len(seen) >= 5


def test_pixel_limit_applies_to_files_only_pil_reads(tmp_path):
    """ILSVRC has PNGs named .JPEG; libjpeg refuses them and PIL decodes them: the limit still holds."""
    root = write_imagenet(tmp_path, per_class=1, val_per_class=1)
    split = scan_imagenet(root).train
    png = Path(split.paths[1])
    class_image(1, 400, 300, seed=0).save(png, "PNG")  # the others are smaller
    for limit, unreadable in ((120_000, []), (119_999, [str(png)])):  # 400 x 300 = 120,000 pixels
        loader = ImageNetLoader(split.paths, split.labels, CPU, num_workers=0, train=False, max_pixels=limit)
        assert sum(len(y) for _, y in loader.eval_batches(3)) == 3 - len(unreadable)
        assert loader.unreadable == unreadable
    assert loader.unreadable_reasons[str(png)] == "400 x 300 pixels exceeds dataset.max_pixels=119999"


@pytest.mark.parametrize("problem", ["labels out of range", "wrong keys"])
def test_malformed_cifar_pickles_are_one_clear_error(cifar_root, tmp_path, problem):
    root = tmp_path / "data"
    shutil.copytree(cifar_root / "cifar-10-batches-py", root / "cifar-10-batches-py")
    path = root / "cifar-10-batches-py" / "data_batch_2"
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="latin1")  # our own fixture file
    if problem == "labels out of range":
        batch["labels"][0] = 10
    else:
        batch["pixels"] = batch.pop("data")
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    with pytest.raises(DatasetError, match="data_batch_2"):
        train_in_process(*TINY, f"dataset.root={root}", out=tmp_path / "run")
