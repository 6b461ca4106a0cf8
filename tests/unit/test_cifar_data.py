import codecs
import collections
import dataclasses
import hashlib
import io
import os
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

from crelu_repro.core.errors import DatasetError
from crelu_repro.data.cifar import reader as cifar
from crelu_repro.data.cifar.reader import CIFAR_NAMES, CifarData, load_cifar
from tests.helpers.cifar import write_cifar

SUBSET = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-subset"  # ../shared, as in CI
SIZE_WARNING = "not the official 50,000 / 10,000"


def _raw(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")  # trusted: files the test itself wrote


def _rewrite(path: Path, protocol: int = 2, **changes) -> None:
    d = _raw(path)
    d.update(changes)
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=protocol)


def _load(name: str, root, **kw) -> CifarData:
    with pytest.warns(UserWarning, match=SIZE_WARNING):
        return load_cifar(name, root, **kw)


@pytest.mark.parametrize("key_kind", ["str", "bytes"])
@pytest.mark.parametrize("name", CIFAR_NAMES)
def test_fixture_loads_with_shapes_dtypes_and_order(tmp_path, name, key_kind):
    folder = write_cifar(tmp_path, name, n_train=60, n_test=30, key_kind=key_kind)
    data = _load(name, tmp_path)
    num_classes = 10 if name == "cifar10" else 100
    assert data.name == name and data.num_classes == num_classes and len(data.classes) == num_classes
    assert all(isinstance(c, str) for c in data.classes)
    for split, n in ((data.train, 60), (data.test, 30)):
        assert split.images.shape == (n, 3, 32, 32) and split.images.dtype == np.uint8
        assert split.images.flags.c_contiguous and split.images.flags.writeable
        assert split.labels.shape == (n,) and split.labels.dtype == np.int64
    assert len(data.warnings) == 1 and "60 train / 30 test" in data.warnings[0]
    # train is data_batch_1..5 in order, each row reshaped as R, G, B planes
    labels_key = "labels" if name == "cifar10" else "fine_labels"
    files = [f"data_batch_{i}" for i in range(1, 6)] if name == "cifar10" else ["train"]
    raw = [{k.decode() if isinstance(k, bytes) else k: v for k, v in _raw(folder / f).items()} for f in files]
    np.testing.assert_array_equal(data.train.labels, np.concatenate([r[labels_key] for r in raw]))
    rows = np.concatenate([r["data"] for r in raw])
    np.testing.assert_array_equal(data.train.images[7, 1], rows[7, 1024:2048].reshape(32, 32))


def test_tilde_root_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_cifar(tmp_path / "data")
    assert len(_load("cifar10", "~/data").train.labels) == 100


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python3_pickles_of_numpy_arrays_load(tmp_path, protocol):
    # protocol 2 stores bytes via _codecs.encode, 5 via numpy's _frombuffer: both must stay allowed
    folder = write_cifar(tmp_path)
    for f in folder.iterdir():
        _rewrite(f, protocol=protocol)
    assert _load("cifar10", tmp_path).test.images.shape == (50, 3, 32, 32)


@pytest.mark.skipif(not SUBSET.is_dir(), reason="shared CIFAR-10 subset not present")
def test_real_subset_loads_and_warns():
    data = _load("cifar10", SUBSET)
    assert (len(data.train.labels), len(data.test.labels)) == (12_500, 5_000)
    assert data.classes[0] == "airplane" and data.classes[-1] == "truck"
    np.testing.assert_array_equal(np.bincount(data.train.labels), [1250] * 10)
    mean = data.train.images.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(mean, [125.6, 123.2, 114.2], atol=1.0)


def test_truncated_batch_names_the_file(tmp_path):
    folder = write_cifar(tmp_path)
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"data_batch_3 is truncated or corrupt.*download"):
        load_cifar("cifar10", tmp_path)


@pytest.mark.parametrize(
    ("file", "changes", "match"),
    [
        ("data_batch_2", {"labels": [10] * 20}, r"data_batch_2 has labels in \[10, 10\], outside \[0, 10\)"),
        ("data_batch_2", {"labels": [-1] * 20}, r"outside \[0, 10\)"),
        ("test_batch", {"labels": [0] * 49}, r"test_batch has 49 labels for 50 images"),
        ("test_batch", {"data": np.zeros((50, 1024), np.uint8)}, r"expected uint8 of shape \(N, 3072\)"),
        ("test_batch", {"data": np.zeros((50, 3072), np.float32)}, r"float32 \(50, 3072\)"),
        ("batches.meta", {"label_names": ["a"] * 9}, r"batches.meta has 9 'label_names', expected 10"),
    ],
)
def test_malformed_files_are_refused(tmp_path, file, changes, match):
    folder = write_cifar(tmp_path)
    _rewrite(folder / file, **changes)
    with pytest.raises(DatasetError, match=match) as err:
        load_cifar("cifar10", tmp_path)
    assert "download" in str(err.value)


def test_wrong_keys_list_the_expected_ones(tmp_path):
    folder = write_cifar(tmp_path, "cifar100")  # a CIFAR-10 style batch where CIFAR-100 is expected
    d = _raw(folder / "train")
    d["labels"] = d.pop("fine_labels")
    with open(folder / "train", "wb") as f:
        pickle.dump(d, f, protocol=2)
    expected = r"train lacks the key\(s\) \['fine_labels'\] \(expected keys \['data', 'fine_labels'\]"
    with pytest.raises(DatasetError, match=expected):
        load_cifar("cifar100", tmp_path)


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_cifar("cifar10", tmp_path, download=False)
    msg = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in msg and "dataset.download=true" in msg
    (write_cifar(tmp_path) / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match="lacks data_batch_4"):
        load_cifar("cifar10", tmp_path)


@pytest.mark.parametrize("exc", [urllib.error.URLError("no route to host"), TimeoutError("timed out")])
@pytest.mark.parametrize("name", CIFAR_NAMES)
def test_download_failure_offline_is_a_dataset_error(tmp_path, monkeypatch, name, exc):
    def offline(*args, **kwargs):
        raise exc

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError) as err:
        load_cifar(name, tmp_path / "root", download=True)
    msg = str(err.value)
    folder = "cifar-10-batches-py" if name == "cifar10" else "cifar-100-python"
    assert f"could not download CIFAR-{name[5:]} from https://www.cs.toronto.edu/" in msg
    assert str(exc.args[0]) in msg and f"`{folder}/`" in msg and str(tmp_path / "root") in msg


def _tarball(tmp_path: Path, extra: tarfile.TarInfo | None = None) -> bytes:
    src = tmp_path / "src"
    write_cifar(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x"))
    return buf.getvalue()


def _serve(monkeypatch, payload: bytes, md5: str | None = None) -> list[str]:
    urls: list[str] = []

    def fake_urlopen(url, timeout=None):
        urls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    spec = dataclasses.replace(cifar._SPECS["cifar10"], tar_md5=md5 or hashlib.md5(payload).hexdigest())
    monkeypatch.setitem(cifar._SPECS, "cifar10", spec)
    return urls


def test_download_verifies_and_extracts(tmp_path, monkeypatch):
    urls = _serve(monkeypatch, _tarball(tmp_path))
    data = _load("cifar10", tmp_path / "root", download=True)
    assert urls == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert len(data.train.labels) == 100 and (tmp_path / "root" / "cifar-10-python.tar.gz").is_file()


def test_download_with_wrong_md5_is_refused_and_deleted(tmp_path, monkeypatch):
    _serve(monkeypatch, _tarball(tmp_path), md5="0" * 32)
    with pytest.raises(DatasetError, match="has md5 .* not 0{32}; it was deleted"):
        load_cifar("cifar10", tmp_path / "root", download=True)
    assert not (tmp_path / "root" / "cifar-10-python.tar.gz").exists()


@pytest.mark.skipif(not hasattr(tarfile, "data_filter"), reason="needs tarfile extraction filters")
def test_download_refuses_members_outside_root(tmp_path, monkeypatch):
    evil = tarfile.TarInfo("../evil.txt")
    evil.size = 1
    _serve(monkeypatch, _tarball(tmp_path, evil))
    with pytest.raises(DatasetError, match="could not extract"):
        load_cifar("cifar10", tmp_path / "root", download=True)
    assert not (tmp_path / "evil.txt").exists()


class _Call:
    """Pickles as a call of ``fn(*args)`` at load time (what a tampered file would contain)."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize("payload", ["os.system", "collections"])
def test_disallowed_globals_are_refused_and_never_called(tmp_path, payload):
    marker = tmp_path / "pwned"
    folder = write_cifar(tmp_path)
    value = _Call(os.system, (f"touch {marker}",)) if payload == "os.system" else collections.OrderedDict(a=1)
    _rewrite(folder / "data_batch_1", extra=value)
    with pytest.raises(DatasetError, match=r"data_batch_1 refers to (posix|nt|os)\.system|OrderedDict"):
        load_cifar("cifar10", tmp_path)
    assert not marker.exists()


def test_codecs_encode_allows_only_latin1(tmp_path):
    folder = write_cifar(tmp_path)
    _rewrite(folder / "test_batch", data=_Call(codecs.encode, ("x", "rot13")))  # GLOBAL '_codecs encode'
    with pytest.raises(DatasetError, match="test_batch is truncated or corrupt.*rot13"):
        load_cifar("cifar10", tmp_path)


def test_md5_checked_when_sizes_look_official(tmp_path, monkeypatch):
    folder = write_cifar(tmp_path)
    monkeypatch.setattr(cifar, "_OFFICIAL_COUNTS", (100, 50))
    with pytest.warns(UserWarning, match=r"md5 of data_batch_1, .*batches.meta is not the official one"):
        load_cifar("cifar10", tmp_path)
    for f in folder.iterdir():
        monkeypatch.setitem(cifar._SPECS["cifar10"].md5, f.name, hashlib.md5(f.read_bytes()).hexdigest())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_cifar("cifar10", tmp_path).warnings == []


@pytest.mark.parametrize("name", CIFAR_NAMES)
def test_fingerprint_follows_the_bytes_not_the_folder(tmp_path, name):
    folder = write_cifar(tmp_path / "a", name)
    shutil.copytree(folder, tmp_path / "b" / folder.name)  # the same files elsewhere
    a, b = _load(name, tmp_path / "a").fingerprint, _load(name, tmp_path / "b").fingerprint
    assert a == b and a["kind"] == name
    files = sorted(f.name for f in folder.iterdir())
    assert sorted(a["files"]) == files  # every file read: batches and the meta file
    for f in files:  # md5 and size of the whole file, taken while it was unpickled
        raw = (folder / f).read_bytes()
        assert a["files"][f] == {"bytes": len(raw), "md5": hashlib.md5(raw).hexdigest()}
    victim = files[-1] if name == "cifar10" else "train"  # test_batch / train: a data file
    path = tmp_path / "b" / folder.name / victim
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one pixel's lowest bit: the file still loads
    path.write_bytes(bytes(raw))
    changed = _load(name, tmp_path / "b").fingerprint
    assert changed != a and [f for f in files if changed["files"][f] != a["files"][f]] == [victim]


def test_unknown_name_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cifar10"):
        load_cifar("mnist", tmp_path)
