"""Reading a CIFAR pickle safely, and fingerprinting it in the same pass.

The files are Python-2 pickles, so they are read with a restricted unpickler that can only rebuild numpy
arrays: a tampered file cannot run code. The reader hashes what the unpickler reads, so a file's md5 costs
no second read.
"""

from __future__ import annotations

import codecs
import hashlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import DatasetError


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 protocol-2 pickles store bytes as _codecs.encode(text, "latin1"); allow only that codec.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return codecs.encode(text, "latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    # Only what array reconstruction needs, under numpy 1.x and 2.x module names; the objects are
    # resolved here, so find_class never imports a module named by the file.
    try:  # numpy >= 2 (importing numpy.core there warns)
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol-5 pickles
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # the CIFAR site's recipe; str keys also handled
        self._path = path
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise DatasetError(
                f"{self._path} refers to {module}.{name}, which a CIFAR file never contains; it was not "
                f"loaded. Delete {self._path.parent} and download the official files again."
            ) from None


class HashingReader:
    """A binary file that hashes (md5) and counts every byte read from it: the fingerprint and the md5
    comparison with the official files cost no second read."""

    def __init__(self, f: Any) -> None:
        self._f, self.size = f, 0
        self._md5 = hashlib.md5(usedforsecurity=False)

    def _add(self, data: Any) -> None:
        self._md5.update(data)
        self.size += len(data)

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._add(data)
        return data

    def readline(self) -> bytes:
        data = self._f.readline()
        self._add(data)
        return data

    def readinto(self, buf: Any) -> int:
        n = self._f.readinto(buf)
        self._add(memoryview(buf).cast("B")[:n])
        return n

    def digest(self) -> dict[str, Any]:
        """{"bytes", "md5"} of the whole file: what the unpickler left unread is read (and hashed) here."""
        while self.read(1 << 20):
            pass
        return {"bytes": self.size, "md5": self._md5.hexdigest()}
