"""JPEG headers, without files: the frame-header size that guards against decompression bombs."""

from __future__ import annotations

import io

import pytest
import torch
from imagenet_fixture import class_image
from PIL import Image
from torchvision.io import decode_jpeg

from crelu_repro.data.jpeg import jpeg_size

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")  # torchvision 0.29


def test_jpeg_size_reads_the_frame_header():
    img = class_image(0, 67, 45, seed=1)
    for kw in ({}, {"progressive": True}, {"exif": Image.Exif()}, {"icc_profile": b"\0" * 5000}):
        buf = io.BytesIO()
        img.save(buf, "JPEG", **kw)
        assert jpeg_size(buf.getvalue()) == (67, 45), kw
    data = buf.getvalue()
    stray = data[:2] + b"\x00\x13\xff\x00\xff\xff" + data[2:]  # libjpeg skips such bytes: so must we
    decoded = decode_jpeg(torch.frombuffer(bytearray(stray), dtype=torch.uint8))
    assert jpeg_size(stray) == (67, 45) and decoded.shape == (3, 45, 67)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    assert jpeg_size(buf.getvalue()) is None and jpeg_size(b"") is None  # not a JPEG: PIL's to read
