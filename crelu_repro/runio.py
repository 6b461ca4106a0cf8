"""Atomic file writes (and the names of a run's score arrays): checkpoint.py, results.py and every report
write through these.

Every file is written to a temporary name in the same directory, flushed to disk, then renamed over the
old one, so a crash at any instant leaves either the previous complete file or the new complete file.
Nothing is written through a symbolic link: a link in the place of a file or folder we write is refused
naming it (checked with lstat, and the temporary file is opened with O_NOFOLLOW | O_EXCL), so a planted
link can never make a run write outside its folder.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from . import faults, jsonio
from .errors import CreluError, StorageError, SymlinkError

SCORES = "test_scores.npy"
LABELS = "test_labels.npy"  # beside the scores, so Vote needs no access to the dataset


def refuse_link(path: Path) -> None:
    """Raise SymlinkError when `path` is a symbolic link (dangling or not): we never write through one."""
    if os.path.islink(path):
        raise link_error(path)


def link_error(path: Path) -> SymlinkError:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return SymlinkError(
        f"{path} is a symbolic link (to {target}); this file is only ever written in place, never through "
        "a link, so nothing outside its folder is touched. Remove the link and rerun."
    )


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a symbolic link as the last component (O_NOFOLLOW): one line naming it."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:  # what O_NOFOLLOW answers for a link
            raise link_error(path) from None
        raise


def refuse_other_kind(path: Path, folder: bool) -> None:
    """Raise CreluError when something other than a `folder` (or a regular file) stands at `path`: a folder
    named result.json, a file named .hydra. Read or written, it would be a traceback or a misleading
    "fix the permissions"; it is the user's to move away, so it is left as it is."""
    if not os.path.lexists(path) or (path.is_dir() if folder else path.is_file()):
        return
    found = "a folder" if path.is_dir() else "a file" if path.is_file() else "a special file (a pipe...)"
    want = f"the folder {path.name}/" if folder else f"the file {path.name}"
    raise CreluError(f"{path} is {found}, where the run keeps {want}; move it away and rerun")


def own_dir(path: Path) -> Path:
    """`path` as a folder of our own (a run's `.hydra/`, `tb/`): made when missing; a link is refused."""
    refuse_link(path)
    refuse_other_kind(path, folder=True)
    try:
        path.mkdir(exist_ok=True)  # mkdir never follows a link in its place (EEXIST)
    except OSError as err:
        raise StorageError(f"cannot create {path} ({err.strerror or err}); fix the permissions") from None
    if not path.is_dir():
        raise StorageError(f"{path} exists and is not a folder; move it away and rerun")
    return path


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write `path` through `write(file)` atomically: temp file + fsync + rename + directory fsync. A link in
    the place of `path` is refused; the temporary file is created anew (O_EXCL | O_NOFOLLOW)."""
    path = Path(path)
    refuse_link(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        if os.path.lexists(tmp):  # a killed write's leftover (or a planted link): removed, never followed
            os.unlink(tmp)
        with os.fdopen(open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL), "wb") as f:
            write(f)
            faults.in_write(path.name)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)  # a full disk leaves the previous file untouched
        raise _not_written(path, err) from err
    except BaseException:
        tmp.unlink(missing_ok=True)  # an interrupt leaves the previous file untouched
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _not_written(path: Path, err: OSError) -> StorageError:
    """What to do: a folder we may not write is the user's to open up (or to avoid), a full disk to clear."""
    why = err.strerror or str(err)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):  # (a read-only folder said "free some space")
        return StorageError(
            f"could not write {path} ({why}): {path.parent} cannot be written to, and nothing in it was "
            "changed. Make it writable (or write elsewhere) and rerun."
        )
    return StorageError(
        f"could not write {path} ({why}); the previous {path.name} is intact. "
        "Free some space (or fix the permissions) and rerun the same command: it resumes."
    )


def write_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=1, sort_keys=False) + "\n").encode()))


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def read_json(path: Path) -> dict | None:
    """A JSON file's contents, or None when absent or unusable (jsonio's bounds: size, depth, no link)."""
    try:
        return jsonio.load(path)
    except (FileNotFoundError, jsonio.JsonFileError):
        return None
