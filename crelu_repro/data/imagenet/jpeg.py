"""Image files for the ImageNet loader: read the bytes, refuse oversized headers, decode.

Reading and decoding return the reason a file is unusable instead of raising: the loader counts such
files against its unreadable budget and lists them with these reasons. An image whose header declares more
than `max_pixels` pixels is refused before any decoder sees it: a 2.5 KB JPEG can declare 65500 x 65500
pixels, and decoding it would take ~13 GB.
"""

from __future__ import annotations

import io
import re

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ...core.errors import os_reason

# PIL's own bomb limit, for callers outside a run; a run passes dataset.max_pixels (configs/dataset/).
MAX_PIXELS: int = Image.MAX_IMAGE_PIXELS
# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic). Not C4
# (DHT), C8 (reserved) or CC (DAC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM carry no length field

Decoded = tuple[torch.Tensor | None, str | None]  # ((3, H, W) uint8 RGB, None) or (None, reason)


def decode_jpeg(data: torch.Tensor | list[torch.Tensor], device: torch.device | str = "cpu"):
    """torchvision's JPEG decoder, to RGB: imported on first use, since importing torchvision costs a process
    about 1.5 s (it pulls in torch._dynamo) and only the ImageNet path decodes (CIFAR runs, and every command
    that stops at a config error, never need it)."""
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_jpeg as decode

    return decode(data, mode=ImageReadMode.RGB, device=device)


def jpeg_size(data: np.ndarray | bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, reading only the header's bytes; None if not found."""
    mv = memoryview(data).cast("B")
    n, i = len(mv), 2
    if n < 4 or mv[0] != 0xFF or mv[1] != 0xD8:  # no SOI: not a JPEG (PIL may still read it)
        return None
    while i + 4 <= n:
        marker = mv[i + 1]
        if mv[i] != 0xFF or marker in (0x00, 0xFF):  # libjpeg skips stray and fill bytes: so do we
            i += 1
        elif marker in _STANDALONE:
            i += 2
        elif marker in (0xD9, 0xDA):  # EOI, or SOS: scan data before any frame header
            return None
        elif marker in _SOF:  # FF Cn, length (2), precision (1), height (2), width (2)
            if i + 9 > n:
                return None
            return (mv[i + 7] << 8) | mv[i + 8], (mv[i + 5] << 8) | mv[i + 6]
        else:  # any other segment: skip it by its length
            i += 2 + ((mv[i + 2] << 8) | mv[i + 3])
    return None


def _too_big(width: int, height: int, max_pixels: int) -> str | None:
    if width * height > max_pixels:
        return f"{width} x {height} pixels exceeds dataset.max_pixels={max_pixels}"
    return None


def read_checked(path: str, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray | None, str | None]:
    """(file bytes (n,) uint8, None), or (None, reason): unreadable, or a JPEG header above max_pixels."""
    try:
        data = np.fromfile(path, dtype=np.uint8)  # (bytes,): writable, so torch.from_numpy is safe
    except OSError as exc:
        return None, os_reason(exc)
    size = jpeg_size(data)
    why = _too_big(*size, max_pixels) if size else None
    return (None, why) if why else (data, None)


def decode_cpu(data: torch.Tensor | np.ndarray, max_pixels: int = MAX_PIXELS) -> Decoded:
    """File bytes -> (3, H, W) uint8 RGB (grayscale and CMYK converted), or (None, reason)."""
    data = torch.as_tensor(data)
    try:
        return decode_jpeg(data), None
    except RuntimeError:
        pass
    try:  # libjpeg refuses a few files that PIL reads (e.g. ILSVRC's PNG named .JPEG): take PIL's word
        with Image.open(io.BytesIO(data.numpy().tobytes())) as im:  # reads the header only
            why = _too_big(*im.size, max_pixels)
            if why:
                return None, why
            return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous(), None
    except UnidentifiedImageError:
        return None, "not an image (neither libjpeg nor PIL recognizes its format)"
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, DecompressionBombError...)
        return None, f"not a decodable image ({type(exc).__name__}: {_plain(exc)})"


def _plain(exc: Exception) -> str:
    """An exception's text without object reprs (`<_io.BytesIO object at 0x7f...>` says nothing)."""
    return re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip() or "no detail"


def decode_batch(
    flat: torch.Tensor, sizes: np.ndarray, device: torch.device, reasons: dict[int, str], max_pixels: int
) -> list[torch.Tensor | None]:
    """Flat file bytes + (b,) sizes (-1 = refused already) -> b decoded (3, H, W) uint8 images or None.

    Decodes in one call (nvJPEG's batched decode on CUDA); records the reason of each new failure in
    `reasons` (position -> reason).
    """
    ok = np.flatnonzero(sizes >= 0)
    data = dict(zip(ok, flat.split(sizes[ok].tolist()), strict=True))  # contiguous 1-D views
    images: list[torch.Tensor | None] = [None] * len(sizes)
    if device.type == "cuda" and data:
        # nvJPEG writes its outputs on torchvision's private stream, which does not wait for ours, into memory
        # allocated from our stream's pool: memory that kernels still queued on our stream may be reading
        # (freed by Python, reused at once by the allocator). Let our stream drain first; the loader calls
        # this on its side stream, in its background thread, so the training loop does not wait.
        torch.cuda.current_stream(device).synchronize()
    try:
        decoded = decode_jpeg(list(data.values()), device=device) if data else []
        for i, im in zip(ok, decoded, strict=True):
            images[i] = im
    except RuntimeError:  # one bad (or CMYK, or non-JPEG) file fails the whole call
        for i in ok:  # find it image by image on the CPU
            im, why = decode_cpu(data[i], max_pixels)
            images[i] = None if im is None else im.to(device)
            if why:
                reasons[int(i)] = why
    return images
