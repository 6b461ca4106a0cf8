"""A run directory's files: atomic writes, the checkpoint, result.json and provenance.

Every file is written to a temporary name in the same directory, flushed to disk, then renamed over the
old one, so a crash at any instant leaves either the previous complete file or the new complete file.
Nothing is written through a symbolic link: a link in the place of a file or folder we write is refused
naming it (checked with lstat, and the temporary file is opened with O_NOFOLLOW | O_EXCL), so a planted
link can never make a run write outside its folder.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import torch

from . import faults, jsonio
from .errors import ConfigError, StorageError, SymlinkError

CHECKPOINT = "checkpoint.pt"
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


def own_dir(path: Path) -> Path:
    """`path` as a folder of our own (a run's `.hydra/`, `tb/`): made when missing; a link is refused."""
    refuse_link(path)
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
        raise StorageError(
            f"could not write {path} ({err.strerror or err}); the previous {path.name} is intact. "
            "Free some space (or fix the permissions) and rerun the same command: it resumes."
        ) from err
    except BaseException:
        tmp.unlink(missing_ok=True)  # an interrupt leaves the previous file untouched
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=1, sort_keys=False) + "\n").encode()))


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def save_checkpoint(run_dir: Path, state: dict) -> None:
    buffer = io.BytesIO()  # serialize first: a failing torch.save never touches the disk
    torch.save(state, buffer)
    atomic_write(run_dir / CHECKPOINT, lambda f: f.write(buffer.getbuffer()))


# What the trainer's checkpoint holds (trainer.py writes it); anything else is not ours to resume.
TRAINER_KEYS = ("format", "model", "optimizer", "scheduler", "state", "rng", "identity", "data", "network")
# Bump when the layout changes; an older checkpoint is then refused with a message. 3: + "network", the
# network's structure fingerprint (each weight's shape), checked before a resume.
FORMAT = 3


def load_checkpoint(run_dir: Path, require: tuple[str, ...] = TRAINER_KEYS) -> dict | None:
    """The checkpoint, loaded with weights_only=True (no arbitrary unpickling), or None if absent. A file
    that loads but lacks the `require`d keys (a bare state_dict, a list, another trainer's) is refused."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # atomic writes make this unlikely: a damaged disk or a foreign file
        raise ConfigError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}). Move it away to start this run afresh."
        ) from exc
    missing = [k for k in require if not isinstance(ckpt, dict) or k not in ckpt]
    stale = "format" in require and isinstance(ckpt, dict) and "format" in ckpt and ckpt["format"] != FORMAT
    if missing or stale:
        what = f"a {type(ckpt).__name__}" + (f" without {', '.join(map(repr, missing))}" if missing else "")
        if stale:  # an older (or newer) trainer's: its format says more than the keys it lacks
            what = f"format {ckpt.get('format')!r}, this trainer writes format {FORMAT}"
        raise ConfigError(
            f"{path} is not a checkpoint this trainer can resume ({what}). Move it away to start this "
            "run afresh, or rerun with the code version that wrote it."
        )
    return ckpt


def read_json(path: Path) -> dict | None:
    """A JSON file's contents, or None when absent or unusable (jsonio's bounds: size, depth, no link)."""
    try:
        return jsonio.load(path)
    except (FileNotFoundError, jsonio.JsonFileError):
        return None


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two nested config dicts: ['trainer.epochs: 10 -> 20']."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return diffs


def check_same_config(run_dir: Path, stored: dict, current: dict, what: str) -> None:
    diffs = config_diff(stored, current)
    if diffs:
        raise ConfigError(
            f"{run_dir} holds the {what} of a different configuration, so it will not be resumed or "
            f"overwritten:\n  " + "\n  ".join(diffs[:12]) + "\nRun with a new hydra.run.dir, or move that "
            "directory away."
        )


def code_version() -> str:
    """`git describe` of the source tree (with -dirty), or the package version outside a checkout."""
    from . import __version__

    repo = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"crelu_repro {__version__} (no git checkout)"
