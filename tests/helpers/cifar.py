"""Write tiny CIFAR-10/100 datasets in the canonical "python version" layout, for tests.

The pickles follow the official Python-2 files: protocol 2, with bytes (the array payload, and keys
and text when ``key_kind="bytes"``) written as Python-2 ``str`` (BINSTRING) rather than through the
``_codecs.encode`` global that Python 3 uses, so only numpy's array globals appear.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler lets us override how bytes are saved
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _dump(path: Path, obj: dict[Any, Any]) -> None:
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)


def _images(labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    # A class-specific mean colour plus strong noise: learnable in an epoch, but not trivially.
    means = np.random.default_rng(1234).uniform(60, 196, size=(num_classes, 3))
    noise = rng.normal(0.0, 45.0, size=(len(labels), 3, 32, 32))
    imgs = np.clip(means[labels][:, :, None, None] + noise, 0, 255).astype(np.uint8)
    return imgs.reshape(len(labels), 3072)  # R plane, G plane, B plane per row


def _labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def write_cifar(
    root: Path,
    name: str = "cifar10",
    n_train: int = 100,
    n_test: int = 50,
    seed: int = 0,
    key_kind: str = "str",
) -> Path:
    """Write a tiny dataset under ``root`` and return its folder (``root/cifar-10-batches-py`` etc.).

    ``key_kind="bytes"`` writes keys and text as bytes (what ``encoding="bytes"`` loading of the
    official files yields); ``"str"`` writes them as str.
    """
    if key_kind not in ("str", "bytes"):
        raise ValueError(f"key_kind must be 'str' or 'bytes', not {key_kind!r}")

    def t(s: str) -> str | bytes:
        return s.encode("latin1") if key_kind == "bytes" else s

    def d(**items: Any) -> dict[Any, Any]:
        return {t(k): v for k, v in items.items()}

    rng = np.random.default_rng(seed)
    if name == "cifar10":
        folder = Path(root) / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        _dump(
            folder / "batches.meta",
            d(
                num_cases_per_batch=-(-n_train // 5),
                label_names=[t(c) for c in CIFAR10_CLASSES],
                num_vis=3072,
            ),
        )
        labels = _labels(n_train, 10, rng)
        chunks = np.array_split(np.arange(n_train), 5)
        splits = [
            (f"data_batch_{i + 1}", f"training batch {i + 1} of 5", labels[idx])
            for i, idx in enumerate(chunks)
        ]
        splits.append(("test_batch", "testing batch 1 of 1", _labels(n_test, 10, rng)))
        for fname, batch_label, lab in splits:
            _dump(
                folder / fname,
                d(
                    batch_label=t(batch_label),
                    labels=[int(x) for x in lab],
                    data=_images(lab, 10, rng),
                    filenames=[t(f"{CIFAR10_CLASSES[x]}_s_{i:06d}.png") for i, x in enumerate(lab)],
                ),
            )
    elif name == "cifar100":
        folder = Path(root) / "cifar-100-python"
        folder.mkdir(parents=True, exist_ok=True)
        _dump(
            folder / "meta",
            d(
                fine_label_names=[t(f"fine_{i:02d}") for i in range(100)],
                coarse_label_names=[t(f"coarse_{i:02d}") for i in range(20)],
            ),
        )
        for fname, n in (("train", n_train), ("test", n_test)):
            lab = _labels(n, 100, rng)
            _dump(
                folder / fname,
                d(
                    filenames=[t(f"img_{i:06d}.png") for i in range(n)],
                    batch_label=t(f"{fname}ing batch 1 of 1"),
                    fine_labels=[int(x) for x in lab],
                    coarse_labels=[int(x) // 5 for x in lab],
                    data=_images(lab, 100, rng),
                ),
            )
    else:
        raise ValueError(f"name must be 'cifar10' or 'cifar100', not {name!r}")
    return folder
