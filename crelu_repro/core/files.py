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
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from . import faults
from .errors import CreluError, StorageError, SymlinkError

SCORES = "test_scores.npy"
LABELS = "test_labels.npy"  # beside the scores, so Vote needs no access to the dataset


# Folders named on a command line (`--out`, `--write`, `--sweep-dir`, `hydra.run.dir`, a run's `out_dir`):
# checked before any work, so a file in the way or a folder that cannot be made is one message that says
# what to do, not a traceback.
def output_dir(path: Path, option: str, create: bool = True, writable: bool = True, fix: str = "") -> Path:
    """`path` as a folder to write into, created with its parents when missing (`create`; else only checked
    that no file stands in its way). A symbolic link at `path` is refused: no output is written through one
    (a link at an output file already was; one at its folder wrote wherever it pointed). `writable`: the
    folder (or the nearest one that exists) can be written to, checked before anything is written; off for a
    run's folder, which may be a finished run's read-only copy (skipped, nothing written). `fix`: what else to
    do when it is not writable (default: give another `option`)."""
    if path.is_symlink():
        raise SymlinkError(
            f"{option} {path} is a symbolic link (to {os.readlink(path)}); outputs are never written through "
            f"a link. Give the folder it points to, or another {option}."
        )
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)  # the nearest that exists
    if blocker == path and not path.is_dir():
        raise CreluError(f"{option} {path} exists and is a file, not a directory; choose another {option}")
    if blocker is not None and not blocker.is_dir():
        raise CreluError(
            f"{option} {path} cannot be created: {blocker} is a file; give a folder to write into (it is "
            "created if missing)."
        )
    if writable and blocker is not None and not os.access(blocker, os.W_OK | os.X_OK):
        where = "" if blocker == path else f"cannot be created: {blocker} "
        raise StorageError(
            f"{option} {path} {where}is not writable (its permissions, or a read-only file system); make it "
            f"writable, or {fix or f'give another {option}'}."
        )
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # no permission, a read-only disk
        raise StorageError(
            f"cannot create the {option} folder {path} ({err.strerror}); give another."
        ) from err
    return path


def input_dir(path: Path, option: str, hint: str) -> Path:
    """`path` as an existing folder to read; `hint` says where one comes from."""
    if not path.exists():
        raise CreluError(f"{option} {path} does not exist; {hint}.")
    if not path.is_dir():
        raise CreluError(f"{option} {path} is a file, not a folder; {hint}.")
    return path


def write_error(err: OSError, what: str) -> StorageError:
    """A write that failed after the checks (disk full, permissions) as the user's to fix."""
    where = f" ({err.filename})" if err.filename else ""
    why = err.strerror or str(err)
    return StorageError(
        f"could not write {what}{where}: {why}; free some space or fix permissions, and rerun."
    )


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
    if err.errno == errno.ENOENT:  # (its folder is gone: "free some space" would mislead)
        return StorageError(
            f"could not write {path}: its folder {path.parent} does not exist (removed while we ran?); "
            "create it, or write elsewhere, and rerun."
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
    """A JSON file's contents, or None when absent or unusable (load_json's bounds: size, depth, no link)."""
    try:
        return load_json(path)
    except (FileNotFoundError, JsonFileError):
        return None


# Reading JSON written by someone else


MAX_BYTES = 16 * 2**20  # ours: a finished run's result.json is ~0.1 MB (config, per-epoch history)
MAX_DEPTH = 32  # ours: our files nest at most ~6 levels (identity.model.acts); margin for others'


class JsonFileError(Exception):
    """A JSON file that cannot be used; str() is the reason, without the path."""


def load_json(path: Path, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> object:
    """The parsed contents of `path`, a regular file (a symlink is refused, never followed).
    FileNotFoundError passes through (absence is not damage); anything else is JsonFileError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as err:
        if Path(path).is_symlink():
            raise JsonFileError("is a symbolic link (links are never followed)") from None
        raise JsonFileError(f"cannot be read ({err.strerror or err})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # before fdopen: it refuses a folder with IsADirectoryError
        os.close(fd)
        raise JsonFileError("is a folder, not a file" if stat.S_ISDIR(mode) else "is not a regular file")
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JsonFileError(f"is larger than {max_bytes // 2**20} MiB")
    return loads_json(data, max_depth)


def loads_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> object:
    try:
        obj = json.loads(data)
    except RecursionError:
        raise JsonFileError(f"nests deeper than {max_depth} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise JsonFileError(f"is not valid JSON ({err})") from None
    if depth(obj) > max_depth:
        raise JsonFileError(f"nests deeper than {max_depth} levels")
    return obj


def depth(obj: object) -> int:
    """How deeply lists and objects nest in parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (node.values() if isinstance(node, dict) else node))
    return deepest
