"""User-facing errors: the entry points print their message alone (no traceback) and exit non-zero.

Every exit status the project's commands use is named here (docs/reliability.md says when): 0 done,
FAILED some of the work failed (the rest is written), USAGE a problem the user can fix (CreluError), 3 a
diverged run, 4 a write that failed, 75 a run directory in use, INTERRUPTED a second Ctrl-C, 143 SIGTERM.
"""

import errno
import os
import sys

FAILED = 1  # a sweep with failed runs, a figure that could not be drawn: what could be done is written
USAGE = 2  # a bad config, missing or malformed data: one line says what to do
INTERRUPTED = 130  # 128 + SIGINT: a second Ctrl-C, no checkpoint waited for (every file is still whole)


class CreluError(Exception):
    """A problem the user can fix (bad config, missing or malformed data, a diverged run)."""

    exit_code = USAGE


class ConfigError(CreluError):
    """An invalid combination of configuration values."""


class DatasetError(CreluError):
    """Dataset files are missing, malformed or cannot be downloaded."""


class SymlinkError(CreluError):
    """A symbolic link where the project writes (or reads) one of its own files or folders: following it
    would write outside the folder it belongs to, so it is refused, naming the link."""


class StorageError(CreluError):
    """A file could not be written (disk full, quota, permissions); the previous version is intact."""

    exit_code = 4


class TrainingError(CreluError):
    """Training cannot go on (for example a non-finite loss); the last good checkpoint is kept."""

    exit_code = 3


class RunDirBusy(CreluError):
    """Another live process trains into this run directory."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class Preempted(CreluError):
    """SIGTERM (what SLURM sends before a time limit): the state was checkpointed; rerun to resume."""

    exit_code = 143


def fail(err: CreluError) -> int:
    """The user's to fix: the message alone on stderr (no traceback); returns the exit code."""
    print(f"error: {err}", file=sys.stderr)
    return err.exit_code


# What an OSError met while reading a dataset means for the user, said once for CIFAR and ImageNet. A file
# or folder we may not read is not damaged: the advice is to fix its permissions, never to delete it.
DENIED = "permission denied"  # how a reason or message starts when permissions are the problem


def os_reason(exc: OSError) -> str:
    """A short reason for one file, as listed among the unreadable ones ("permission denied ...")."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return f"{DENIED} (make it readable by this user)"
    if isinstance(exc, FileNotFoundError):
        return "missing (deleted after the dataset was scanned)"
    return f"could not be read ({exc.strerror or exc})"


def os_read_error(exc: OSError, path: str | os.PathLike, what: str) -> DatasetError:
    """One clear DatasetError for an OSError met while reading `what` (e.g. "CIFAR-10") at `path`."""
    where = exc.filename if exc.filename is not None else os.fspath(path)
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return DatasetError(
            f"{what}: {DENIED} reading {where}. Make it (and the folders above it) readable by "
            f"the user running this, e.g. `chmod -R a+rX {where}` as its owner, then rerun."
        )
    return DatasetError(
        f"{what}: could not read {where} ({exc.strerror or exc}). Check that the disk or network mount "
        "holding it is available, then rerun."
    )
