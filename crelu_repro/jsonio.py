"""Reading JSON written by someone else (a run, a sweep, a hand edit) with bounded size and nesting.

`json.loads` recurses once per nesting level: a 100,000-deep `[[[...]]]` raises RecursionError, and a
document that parses can still break whatever walks it recursively afterwards (config diffs, OmegaConf).
So every file is read through `load`: at most `max_bytes`, parsed, then its depth checked without
recursion. A file that fails any of that raises JsonFileError with one line saying why.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

MAX_BYTES = 16 * 2**20  # ours: a finished run's result.json is ~0.1 MB (config, per-epoch history)
MAX_DEPTH = 32  # ours: our files nest at most ~6 levels (identity.model.acts); margin for others'


class JsonFileError(Exception):
    """A JSON file that cannot be used; str() is the reason, without the path."""


def load(path: Path, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> object:
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
    return loads(data, max_depth)


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> object:
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
