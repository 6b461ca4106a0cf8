"""Folders named on a command line (`--out`, `--write`, `--sweep-dir`, `hydra.run.dir`, a run's `out_dir`):
checked before any work, so a file in the way or a folder that cannot be made is one message that says what
to do, not a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import CreluError, StorageError, SymlinkError


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


def fail(err: CreluError) -> int:
    """The user's to fix: the message alone on stderr (no traceback); returns the exit code."""
    print(f"error: {err}", file=sys.stderr)
    return err.exit_code
