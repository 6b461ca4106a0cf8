"""A counted run's test scores and labels (for the Vote), read through their declared schema.

`test_scores.npy`: float, shape (num_test, classes), finite; `test_labels.npy`: integer, shape (num_test,),
each in [0, classes): num_test from the run's result.json, classes from its planned config. Loaded with
`allow_pickle=False` and memory-mapped first, so neither an object array nor a header that promises more
than the file holds is ever materialized; a symbolic link is refused.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ...core.files import LABELS, SCORES


class ScoresError(Exception):
    """Why a run's scores cannot vote (str: the reason, naming the file)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path.name} {reason}")


def load_scores(run_dir: Path, num_test: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, classes) float32, labels (N,) int64) of a run, or ScoresError."""
    scores = _load(Path(run_dir) / SCORES, (num_test, classes), np.floating)
    if not np.isfinite(scores).all():
        raise ScoresError(Path(run_dir) / SCORES, "holds non-finite scores")
    labels = _load(Path(run_dir) / LABELS, (num_test,), np.integer)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ScoresError(Path(run_dir) / LABELS, f"holds labels outside [0, {classes})")
    return scores.astype(np.float32), labels.astype(np.int64)


def _load(path: Path, shape: tuple[int, ...], kind: type) -> np.ndarray:
    if path.is_symlink():
        raise ScoresError(path, "is a symbolic link (links are never followed)")
    if not path.exists():
        raise ScoresError(path, "is missing")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # not .npy, truncated, objects, empty
        raise ScoresError(
            path, f"cannot be read as a plain array ({str(err).splitlines()[0][:120]})"
        ) from None
    if not isinstance(array, np.ndarray):  # an .npz archive under the .npy name
        array.close()
        raise ScoresError(path, "is not a single array")
    if not np.issubdtype(array.dtype, kind):
        raise ScoresError(path, f"holds {array.dtype}, not {kind.__name__} values")
    if array.shape != shape:
        raise ScoresError(path, f"has shape {array.shape}; the run's test set and classes need {shape}")
    return np.array(array)
