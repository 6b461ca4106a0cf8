"""What an OSError met while reading a dataset means for the user, said once for CIFAR and ImageNet.

A file or folder we may not read is not damaged: the advice is to fix its permissions, never to delete it.
"""

from __future__ import annotations

import errno
import os

from ..core.errors import DatasetError

DENIED = "permission denied"  # how a reason or message starts when permissions are the problem


def reason(exc: OSError) -> str:
    """A short reason for one file, as listed among the unreadable ones ("permission denied ...")."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return f"{DENIED} (make it readable by this user)"
    if isinstance(exc, FileNotFoundError):
        return "missing (deleted after the dataset was scanned)"
    return f"could not be read ({exc.strerror or exc})"


def read_error(exc: OSError, path: str | os.PathLike, what: str) -> DatasetError:
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
