"""ImageNet batch assembly and JPEG headers, without files: flips keyed by crop, no host-to-device copy
of the flip flags, and the frame-header size that guards against decompression bombs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from device_spy import HostToDevice
from imagenet_fixture import class_image
from PIL import Image
from torchvision.io import decode_jpeg

from crelu_repro.data.imagenet import _assemble, _Job
from crelu_repro.data.jpeg import jpeg_size

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")  # torchvision 0.29
SIZES_HW = [(70, 50), (50, 90), (64, 64), (81, 65), (49, 49)]  # (H, W): portrait, landscape, square, odd


def test_train_flips_follow_their_crop_with_no_host_to_device_copy():
    """Each output row is flipped by the flip of the position whose crop it holds (a bad slot's copy
    too), as torch.where(flip[rows]) did; the flags never travel to the device: on a meta "device" no
    CPU tensor becomes a device one (a blocking copy on CUDA, once per batch)."""
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8) for h, w in SIZES_HW]
    images[2] = None  # unreadable: its slot takes position 3's crop, flip and label
    job = _Job(
        np.arange(5), np.linspace(0.1, 0.9, 5), np.linspace(0.8, 0.0, 5), np.array([1, 0, 1, 0, 1], bool)
    )
    x, rows = _assemble(images, job, 64, 48, train=True)
    plain, rows2 = _assemble(images, _Job(job.idx, job.uy, job.ux), 64, 48, train=True)
    assert rows.tolist() == rows2.tolist() == [0, 1, 3, 3, 4]
    expected = torch.where(torch.from_numpy(job.flip[rows]).view(-1, 1, 1, 1), plain.flip(-1), plain)
    assert torch.equal(x, expected) and not torch.equal(x, plain)
    on_device = [None if im is None else torch.empty_like(im, device="meta") for im in images]
    with HostToDevice() as spy:
        assert _assemble(on_device, job, 64, 48, train=True)[0].shape == (5, 3, 48, 48)
    assert spy.copies == []


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
