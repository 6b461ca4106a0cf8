"""ImageNet (ILSVRC-2012) JPEG folders: layout validation, file lists in ImageFolder order, a fingerprint.

The fingerprint describes the whole scanned split (limits belong to the run's config, not to the data):
the file count and a sha256 over the sorted (path relative to the split folder, size) pairs, so the same
tree moved to another folder gives the same fingerprint, and a renamed, added or resized file does not.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.errors import DatasetError, os_read_error, os_reason

log = logging.getLogger("crelu_repro")
JPEG_SUFFIXES = (".jpeg", ".jpg")  # compared lower-case: .JPEG, .jpg, .Jpeg ...
LAYOUT = "root/train/<wnid>/*.JPEG and root/val/<wnid>/*.JPEG (the ImageFolder layout)"


@dataclass
class FileSplit:
    paths: list[str]  # absolute, in ImageFolder order: class by class, file names sorted
    labels: np.ndarray  # (N,) int64 indices into ImageNetFiles.classes

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, idx: Sequence[int] | np.ndarray) -> FileSplit:
        """A subset (e.g. a k-fold split from `kfold_indices(split.labels, ...)`)."""
        idx = np.asarray(idx, dtype=np.int64)
        return FileSplit([self.paths[i] for i in idx], self.labels[idx])


@dataclass
class ImageNetFiles:
    classes: list[str]  # sorted wnids of train/; a label is an index into this list
    train: FileSplit
    val: FileSplit
    # {"kind": "imagenet", "train": {"files": n, "sha256": hex}, "val": {...}}: the whole scanned splits
    fingerprint: dict
    skipped: dict[str, str] = field(default_factory=dict)  # {path: why}: unreadable names left out

    @property
    def num_classes(self) -> int:
        return len(self.classes)


_Listing = dict[str, list[tuple[str, int]]]  # {wnid: sorted (JPEG file name, size in bytes)}


@dataclass
class _Scanned:
    files: _Listing
    others: dict[str, list[str]]  # {wnid: the names of files there that are not JPEGs}
    skipped: dict[str, str]  # {path: why}: JPEG names that cannot be read (a dangling link), left out


def _scan_split(root: Path, split: str) -> _Scanned:
    """The JPEGs of root/<split>/ by class. A folder we cannot list raises (scan_imagenet names it); a file
    we cannot stat (a dangling link) is skipped, with its reason."""
    top = root / split
    if not top.is_dir():
        raise DatasetError(f"ImageNet: no {split}/ folder under {root}; expected {LAYOUT}")
    scanned, loose = _Scanned({}, {}, {}), 0
    with os.scandir(top) as entries:
        for e in entries:
            if e.is_dir():
                scanned.files[e.name] = _scan_class(e.path, scanned, e.name)
            else:
                loose += e.name.lower().endswith(JPEG_SUFFIXES)
    if loose and not any(scanned.files.values()):
        raise DatasetError(
            f"ImageNet: {top} holds {loose} images directly, not in <wnid>/ class folders. Sort them into "
            f"{split}/<wnid>/ by their labels (e.g. with the widely used valprep.sh); expected {LAYOUT}"
        )
    scanned.files = dict(sorted(scanned.files.items()))
    return scanned


def _scan_class(folder: str, scanned: _Scanned, wnid: str) -> list[tuple[str, int]]:
    jpegs = []
    with os.scandir(folder) as files:
        for f in files:
            if not f.name.lower().endswith(JPEG_SUFFIXES):
                scanned.others.setdefault(wnid, []).append(f.name)
                continue
            try:
                jpegs.append((f.name, f.stat().st_size))
            except OSError as exc:  # one unreadable file is skipped and counted, as the loader does
                dangling = isinstance(exc, FileNotFoundError) and f.is_symlink()
                why = "a symbolic link to a missing file" if dangling else os_reason(exc)
                scanned.skipped[f.path] = why
    return sorted(jpegs)


def _fingerprint(files: _Listing) -> dict:
    """{"files": n, "sha256": hex} over the sorted (relative path, size) pairs of one split."""
    pairs = sorted((os.fsencode(f"{wnid}/{name}"), size) for wnid, v in files.items() for name, size in v)
    h = hashlib.sha256()
    for rel, size in pairs:
        h.update(rel + b"\0" + str(size).encode() + b"\n")  # NUL cannot occur in a path: unambiguous
    return {"files": len(pairs), "sha256": h.hexdigest()}


def _limited(files: _Listing, top: Path, index: dict[str, int], limit: int) -> FileSplit:
    labels = np.concatenate([np.full(len(v), index[k], np.int64) for k, v in files.items()])
    paths = [str(top / k / name) for k, v in files.items() for name, _ in v]
    if limit and limit < len(paths):
        # Round-robin over classes (1st image of every class, then the 2nd...), so a small limit still
        # covers the classes; the subset keeps ImageFolder order.
        within = np.concatenate([np.arange(len(v)) for v in files.values()])
        keep = np.sort(np.lexsort((labels, within))[:limit])
        return FileSplit([paths[i] for i in keep], labels[keep])
    return FileSplit(paths, labels)


def _check(root: Path, train: _Scanned, val: _Scanned) -> None:
    for split, scanned in (("train", train), ("val", val)):
        files = scanned.files
        if not any(files.values()):
            raise DatasetError(f"ImageNet: no JPEG images under {root / split}; expected {LAYOUT}")
        empty = [k for k, v in files.items() if not v]
        if empty:
            folders = [_what_is_there(root / split / k, scanned.others.get(k, [])) for k in empty[:5]]
            raise DatasetError(
                f"ImageNet: class folder(s) with no JPEG files: {', '.join(folders)}. Put the class's JPEGs "
                "(.JPEG, .jpg) there or remove the folder"
            )
    extra = sorted(set(val.files) - set(train.files))
    if extra:
        raise DatasetError(
            f"ImageNet: val/ has {len(extra)} class(es) that train/ lacks ({', '.join(extra[:5])}); "
            "val class folders must be a subset of train's"
        )


def _what_is_there(folder: Path, others: list[str]) -> str:
    if not others:
        return f"{folder} (empty)"
    return f"{folder} (holds {len(others)} other file(s), e.g. {sorted(others)[0]})"


def locate_imagenet(root: str | Path) -> Path:
    """`root`, when it holds train/ and val/ folders; else one DatasetError saying where ImageNet goes. Cheap
    (no listing of the 1.28M files): a run checks it before its folder is made."""
    root = Path(root).expanduser()
    try:
        if not root.is_dir():
            raise DatasetError(
                f"ImageNet not found at {root}. It is never downloaded: place ILSVRC-2012 there as {LAYOUT}, "
                "or point dataset.root= (or the CRELU_DATA variable) at the folder holding train/ and val/."
            )
        for split in ("train", "val"):
            if not (root / split).is_dir():
                raise DatasetError(f"ImageNet: no {split}/ folder under {root}; expected {LAYOUT}")
    except OSError as exc:  # a folder we may not read (EACCES) is not a broken layout
        raise os_read_error(exc, root, "ImageNet") from exc
    return root


def scan_imagenet(root: str | Path, limit_train: int = 0, limit_test: int = 0) -> ImageNetFiles:
    """Validate the layout and list the files; limit N keeps the first N of a class round-robin (0 = all).
    JPEG names that cannot be read (a dangling link) are left out and listed in `skipped`, with a warning."""
    root = locate_imagenet(root)
    try:
        train, val = _scan_split(root, "train"), _scan_split(root, "val")
    except OSError as exc:  # a folder or file we may not read (EACCES) is not a broken layout
        raise os_read_error(exc, root, "ImageNet") from exc
    _check(root, train, val)
    index = {wnid: i for i, wnid in enumerate(train.files)}
    skipped = {**train.skipped, **val.skipped}
    if skipped:
        log.warning(
            "ImageNet: skipped %d unreadable file(s) while scanning: %s", len(skipped), _listing(skipped)
        )
    return ImageNetFiles(
        list(train.files),
        _limited(train.files, root / "train", index, limit_train),
        _limited(val.files, root / "val", index, limit_test),
        {"kind": "imagenet", "train": _fingerprint(train.files), "val": _fingerprint(val.files)},
        skipped,
    )


def _listing(skipped: dict[str, str], most: int = 5) -> str:
    shown = "; ".join(f"{p} ({why})" for p, why in list(skipped.items())[:most])
    return shown + (f"; and {len(skipped) - most} more" if len(skipped) > most else "")
