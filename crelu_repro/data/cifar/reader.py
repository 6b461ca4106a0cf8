"""CIFAR-10 / CIFAR-100 loader for the canonical "python version" files, without torchvision.

The files are Python-2 pickles, read with cifar_pickle's restricted unpickler (it can only rebuild numpy
arrays: a tampered file cannot run code), which also fingerprints each file as it reads it. Differences
from the official release (sizes, md5) are warned about, not refused, so subsets such as the shared
12,500-image one load.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import logging
import os
import shutil
import stat
import tarfile
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crelu_repro.core import files
from crelu_repro.core.errors import DatasetError

from ...core.errors import os_read_error
from ..types import Split
from .pickle import HashingReader, RestrictedUnpickler

CIFAR_NAMES = ("cifar10", "cifar100")


@dataclass
class CifarData:
    name: str  # "cifar10" | "cifar100"
    train: Split
    test: Split
    classes: list[str]
    warnings: list[str]  # the differences-from-official messages that were warned about
    # What was read, not where: {"kind": name, "files": {file: {"bytes": n, "md5": hex}}} (resume checks)
    fingerprint: dict

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class _Spec:
    title: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    labels_key: str
    names_key: str
    num_classes: int
    url: str
    tar_md5: str
    md5: dict[str, str]  # official per-file md5 (torchvision's CIFAR10/CIFAR100 lists)


_SPECS = {
    "cifar10": _Spec(
        "CIFAR-10",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
        "batches.meta",
        "labels",
        "label_names",
        10,
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        {
            "data_batch_1": "c99cafc152244af753f735de768cd75f",
            "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
            "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
            "data_batch_4": "634d18415352ddfa80567beed471001a",
            "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
            "test_batch": "40351d587109b95175f43aff81a1287e",
            "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
        },
    ),
    "cifar100": _Spec(
        "CIFAR-100",
        "cifar-100-python",
        ("train",),
        "test",
        "meta",
        "fine_labels",
        "fine_label_names",
        100,
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        {
            "train": "16019d7e3df5f24257cddd939b257f8d",
            "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
            "meta": "7973b15100ade9c7d40fb424638fde48",
        },
    ),
}
log = logging.getLogger("crelu_repro")
DOWNLOAD_LOCK = ".download.lock"  # in the data root: one download and extraction at a time
_OFFICIAL_COUNTS = (50_000, 10_000)
_DOWNLOAD_TIMEOUT_S = 60


def _unpickle(path: Path, digests: dict[str, dict]) -> dict[str, Any]:
    """The file's dict; records its {"bytes", "md5"} in digests[file name]."""
    try:
        with open(path, "rb") as f:
            reader = HashingReader(f)
            obj = RestrictedUnpickler(reader, path).load()
            digests[path.name] = reader.digest()
    except DatasetError:
        raise
    except OSError as exc:  # e.g. no read permission: the file is not damaged, so no "delete it"
        raise os_read_error(exc, path, "CIFAR") from exc
    except Exception as exc:  # EOFError, UnpicklingError, ValueError ... from a damaged file
        raise DatasetError(
            f"file {path} is truncated or corrupt ({type(exc).__name__}: {exc}). Delete {path.parent} and "
            "download it again (dataset.download=true), or copy the file again."
        ) from exc
    if not isinstance(obj, dict):
        raise _malformed(path, f"holds a {type(obj).__name__}, not a dict")
    # encoding="bytes" gives bytes keys for Python-2 str; keys written by Python 3 stay str.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _malformed(path: Path, problem: str) -> DatasetError:
    return DatasetError(
        f"{path} {problem}, so it is not a CIFAR python-version file. Re-download the dataset, or delete "
        f"{path.parent} and rerun with dataset.download=true."
    )


def _require_keys(path: Path, d: dict[str, Any], keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if k not in d]
    if missing:
        raise _malformed(
            path, f"lacks the key(s) {missing} (expected keys {list(keys)}, found {sorted(map(str, d))})"
        )


def _read_batch(path: Path, spec: _Spec, digests: dict[str, dict]) -> Split:
    d = _unpickle(path, digests)
    _require_keys(path, d, ("data", spec.labels_key))
    data, raw_labels = d["data"], d[spec.labels_key]
    if not (
        isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072
    ):
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise _malformed(path, f"has 'data' of {desc}, expected uint8 of shape (N, 3072)")
    try:
        labels = np.asarray(raw_labels)
    except (ValueError, TypeError, OverflowError):  # ragged lists, or nested past numpy's dimension limit
        labels = None
    if labels is None or labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise _malformed(path, f"has '{spec.labels_key}' that is not a list of integers")
    if len(labels) != len(data):
        raise _malformed(path, f"has {len(labels)} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise _malformed(
            path, f"has labels in [{labels.min()}, {labels.max()}], outside [0, {spec.num_classes})"
        )
    # Rows are the R, G and B planes of 32x32 pixels, so this reshape gives channels-first images.
    return Split(data.reshape(-1, 3, 32, 32), labels.astype(np.int64))


def _read_classes(path: Path, spec: _Spec, digests: dict[str, dict]) -> list[str]:
    d = _unpickle(path, digests)
    _require_keys(path, d, (spec.names_key,))
    names = d[spec.names_key]
    if not isinstance(names, list) or len(names) != spec.num_classes:
        count = len(names) if isinstance(names, list) else type(names).__name__
        raise _malformed(path, f"has {count} '{spec.names_key}', expected {spec.num_classes}")
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _is_file(path: Path) -> bool:
    """Whether `path` is a file; a folder we may not search is an error, not a missing file."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:  # EACCES: pathlib would raise it raw (3.11-3.13) or call the file missing (3.14)
        raise os_read_error(exc, path, "CIFAR") from exc


@contextlib.contextmanager
def _download_lock(root: Path) -> Iterator[None]:
    """An OS lock on the data root around download and extraction: processes started together on an empty
    root take turns, and the ones after the first find the files there (released however a process ends)."""
    fd = files.open_nofollow(root / DOWNLOAD_LOCK, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is downloading into %s; waiting for it", root)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _fetch(url: str, tar_path: Path) -> None:
    """Download `url` to `tar_path` through a part file of this process's own (never through a link)."""
    part = tar_path.with_name(f"{tar_path.name}.part{os.getpid()}")
    try:
        if os.path.lexists(part):  # a killed download's leftover (or a planted link): removed, not followed
            os.unlink(part)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        with (
            os.fdopen(files.open_nofollow(part, flags), "wb") as f,
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp,
        ):
            shutil.copyfileobj(resp, f, 1 << 20)
        files.refuse_link(tar_path)
        os.replace(part, tar_path)
    finally:
        part.unlink(missing_ok=True)


def _download(spec: _Spec, root: Path, files: tuple[str, ...]) -> None:
    tar_path = root / spec.url.rsplit("/", 1)[1]
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _download_lock(root):
            if all(_is_file(root / spec.folder / f) for f in files):
                return  # another process downloaded them while this one waited
            _download_locked(spec, root, tar_path)
    except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        reason = getattr(exc, "reason", None) or exc
        raise DatasetError(
            f"could not download {spec.title} from {spec.url} ({reason}). Put the extracted "
            f"`{spec.folder}/` folder under {root} (or set dataset.root=... / CRELU_DATA) and rerun."
        ) from exc


def _download_locked(spec: _Spec, root: Path, tar_path: Path) -> None:
    if not (tar_path.is_file() and _md5(tar_path) == spec.tar_md5):
        _fetch(spec.url, tar_path)
    if (got := _md5(tar_path)) != spec.tar_md5:
        tar_path.unlink()
        raise DatasetError(
            f"the downloaded {tar_path.name} has md5 {got}, not {spec.tar_md5}; it was deleted. Rerun to "
            f"download it again, or put the extracted `{spec.folder}/` folder under {root}."
        )
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, filter="data")  # refuses absolute paths, '..', links out of root
            else:  # pragma: no cover - Python without extraction filters
                for m in tar.getmembers():
                    if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in Path(m.name).parts:
                        raise tarfile.TarError(f"unsafe member {m.name!r}")
                tar.extractall(root)  # members checked above
    except (OSError, tarfile.TarError) as exc:
        raise DatasetError(f"could not extract {tar_path} ({exc}); delete it and rerun.") from exc


def locate_cifar(name: str, root: str | os.PathLike, download: bool = False) -> Path:
    """The folder of CIFAR-10/100's files under ``root``, downloaded first if asked and missing; else one
    DatasetError that says where to put them. Cheap when they are there: a run checks it before its folder
    is made (run/checks.py `check_data`)."""
    if name not in _SPECS:
        raise DatasetError(f"unknown CIFAR dataset {name!r}; use one of {list(CIFAR_NAMES)}.")
    spec = _SPECS[name]
    root = Path(os.path.expanduser(os.fspath(root)))
    folder = root / spec.folder
    files = (*spec.train_files, spec.test_file, spec.meta_file)
    missing = [f for f in files if not _is_file(folder / f)]
    if missing and download:
        _download(spec, root, files)
        missing = [f for f in files if not _is_file(folder / f)]
        if missing:
            raise DatasetError(f"the {spec.title} archive lacks {missing}; delete {folder} and rerun.")
    elif missing:
        raise DatasetError(
            f"{spec.title} not found: {folder} lacks {', '.join(missing)}. Put the extracted "
            f"`{spec.folder}/` folder under {root} (or set dataset.root=... / CRELU_DATA), or set "
            "dataset.download=true to download it."
        )
    return folder


def load_cifar(name: str, root: str | os.PathLike, download: bool = False) -> CifarData:
    """Load CIFAR-10/100 from ``root/<canonical folder>``, downloading it first if asked and missing."""
    folder = locate_cifar(name, root, download)
    spec = _SPECS[name]
    files = (*spec.train_files, spec.test_file, spec.meta_file)
    digests: dict[str, dict] = {}  # file name -> {"bytes", "md5"}, filled as each file is read
    classes = _read_classes(folder / spec.meta_file, spec, digests)
    batches = [_read_batch(folder / f, spec, digests) for f in spec.train_files]
    train = Split(np.concatenate([b.images for b in batches]), np.concatenate([b.labels for b in batches]))
    test = _read_batch(folder / spec.test_file, spec, digests)
    test = Split(np.array(test.images, order="C"), test.labels)  # own, writable copy
    for split_name, split in (("training", train), ("test", test)):
        if len(split.labels) == 0:
            raise DatasetError(f"{folder} holds no {split_name} images; re-download the dataset.")

    notes: list[str] = []
    counts = (len(train.labels), len(test.labels))
    if counts != _OFFICIAL_COUNTS:
        notes.append(
            f"{spec.title} at {folder} has {counts[0]:,} train / {counts[1]:,} test images, not the "
            f"official {_OFFICIAL_COUNTS[0]:,} / {_OFFICIAL_COUNTS[1]:,}"
        )
    else:  # the md5s were taken while reading: comparing them costs nothing
        differ = [f for f in files if digests[f]["md5"] != spec.md5[f]]
        if differ:
            notes.append(f"{spec.title} at {folder}: md5 of {', '.join(differ)} is not the official one")
    if notes:
        warnings.warn("; ".join(notes) + " (results are not comparable to the paper's)", stacklevel=2)
    fingerprint = {"kind": name, "files": {f: digests[f] for f in files}}
    return CifarData(name, train, test, classes, notes, fingerprint)
