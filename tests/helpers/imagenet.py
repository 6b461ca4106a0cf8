"""Write tiny ImageNet trees of real JPEGs (ImageFolder layout), for tests.

Every image of class c is dominated by channel c (plus noise and a gradient, so resizing and cropping
matter), so a crop's brightest channel names its label: batches can be checked for label alignment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

WNIDS = ["n01440764", "n01443537", "n01484850"]  # the first three ILSVRC-2012 classes, sorted
SIZES = [(300, 200), (180, 320), (257, 256), (400, 300), (256, 380), (333, 333)]  # (width, height)


def class_image(c: int, width: int, height: int, seed: int) -> Image.Image:
    """An RGB image whose channel c is bright (~200) and the others dim (~50), with texture."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 50.0)
    img[..., c % 3] = 200.0 if c < 3 else 125.0  # classes past 3 reuse a channel, less bright
    img += np.linspace(-30, 30, width)[None, :, None]  # a horizontal ramp: flips are visible
    img += rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_imagenet(root: Path, per_class: int = 6, val_per_class: int = 2, wnids: list[str] = WNIDS) -> Path:
    """root/train/<wnid>/<wnid>_<i>.JPEG and root/val/<wnid>/ILSVRC2012_val_<c><i>.JPEG; returns root."""
    for c, wnid in enumerate(wnids):
        for split, count in (("train", per_class), ("val", val_per_class)):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                w, h = SIZES[(i + c) % len(SIZES)]
                name = f"{wnid}_{i}.JPEG" if split == "train" else f"ILSVRC2012_val_{c}{i:04d}.JPEG"
                class_image(c, w, h, seed=100 * c + i + (split == "val") * 7).save(folder / name, quality=92)
    return root


def truncate(path: Path) -> None:
    """Cut a JPEG in half: libjpeg and PIL both refuse it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
