"""Image files for the ImageNet loader: read the bytes, decode them (one by one on the CPU, or a batch).

None stands for an unusable file: the loader counts such files against its unreadable budget.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg


def read_bytes(path: str) -> np.ndarray | None:
    """The file's bytes (n,) uint8, or None when it cannot be read."""
    try:
        return np.fromfile(path, dtype=np.uint8)  # (bytes,): writable, so torch.from_numpy is safe
    except OSError:
        return None


def decode_cpu(data: torch.Tensor | np.ndarray | None) -> torch.Tensor | None:
    """File bytes -> (3, H, W) uint8 RGB (grayscale and CMYK converted), or None when unreadable."""
    if data is None:
        return None
    data = torch.as_tensor(data)
    try:
        return decode_jpeg(data, mode=ImageReadMode.RGB)
    except RuntimeError:
        pass
    try:  # libjpeg refuses a few files that PIL reads (e.g. ILSVRC's PNG named .JPEG): take PIL's word
        with Image.open(io.BytesIO(data.numpy().tobytes())) as im:
            return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()
    except Exception:  # PIL raises many types (OSError, SyntaxError, DecompressionBombError...)
        return None


def decode_batch(flat: torch.Tensor, sizes: np.ndarray, device: torch.device) -> list[torch.Tensor | None]:
    """Flat file bytes + (b,) sizes (-1 = unreadable) -> b decoded (3, H, W) uint8 images or None."""
    ok = np.flatnonzero(sizes >= 0)
    data = dict(zip(ok, flat.split(sizes[ok].tolist()), strict=True))  # contiguous 1-D views
    images: list[torch.Tensor | None] = [None] * len(sizes)
    try:  # one call for the batch: nvJPEG's batched decode on CUDA
        decoded = decode_jpeg(list(data.values()), mode=ImageReadMode.RGB, device=device) if data else []
        for i, im in zip(ok, decoded, strict=True):
            images[i] = im
    except RuntimeError:  # one bad (or CMYK, or non-JPEG) file fails the whole call
        for i in ok:  # find it image by image on the CPU
            im = decode_cpu(data[i])
            images[i] = None if im is None else im.to(device)
    return images
