"""ImageNet batch assembly and JPEG headers, without files: the batched crops and flips are the per-image
loop's, bit for bit, in a fixed number of ops per distinct image shape and one host-to-device copy; the
frame-header size that guards against decompression bombs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import decode_jpeg
from torchvision.transforms.v2.functional import resize as tv_resize

from crelu_repro.data.evaluate import five_spots, ten_crops
from crelu_repro.data.imagenet.assemble import Job, assemble, output_rows
from crelu_repro.data.imagenet.jpeg import jpeg_size
from tests.helpers.device_spy import HostToDevice, OpCounter
from tests.helpers.imagenet import class_image

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")  # torchvision 0.29
SIZES_HW = [(70, 50), (50, 90), (64, 64), (81, 65), (49, 49)]  # (H, W): portrait, landscape, square, odd


def per_image(images: list, job: Job, resize: int, crop: int, train: bool) -> tuple[torch.Tensor, np.ndarray]:
    """The loader's assembly before it was batched (8a61b34), image by image: the reference."""
    rows = output_rows(np.array([im is not None for im in images]), train)
    crops = {}
    for r in np.unique(rows):
        im = tv_resize(images[r], [resize], antialias=True)
        h, w = im.shape[-2:]
        if job.uy is None:
            y, x = five_spots(h, w, crop)[4]
        else:
            y, x = int(job.uy[r] * (h - crop + 1)), int(job.ux[r] * (w - crop + 1))
        c = ten_crops(im[None], crop) if job.ten else im[None, :, y : y + crop, x : x + crop]
        crops[r] = c.flip(-1) if job.flip is not None and job.flip[r] else c
    return torch.cat([crops[r] for r in rows]), rows


def batch(n: int, seed: int = 0, shapes: list = SIZES_HW, bad: tuple[int, ...] = ()) -> tuple[list, Job]:
    """n random images cycling through `shapes` (so shapes repeat), some unreadable, with a training job."""
    gen, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    images = [
        torch.randint(0, 256, (3, *shapes[i % len(shapes)]), generator=gen, dtype=torch.uint8)
        for i in range(n)
    ]
    for i in bad:
        images[i] = None
    return images, Job(np.arange(n), rng.random(n), rng.random(n), rng.random(n) < 0.5)


@pytest.mark.parametrize("bad", [(), (0,), (2, 3, 11)])
def test_batched_assembly_is_the_per_image_loop(bad):
    images, job = batch(12, bad=bad)
    plain = Job(job.idx, job.uy, job.ux)  # no flips
    center, flipped_center = Job(job.idx), Job(job.idx, flip=job.flip)
    cases = [(job, True), (plain, True), (center, True), (flipped_center, True), (Job(job.idx), False),
             (Job(job.idx, ten=True), False)]  # fmt: skip
    for j, train in cases:
        got, rows = assemble(images, j, 64, 48, train)
        want, want_rows = per_image(images, j, 64, 48, train)
        assert rows.tolist() == want_rows.tolist()
        assert got.dtype == torch.uint8 and torch.equal(got, want), (j, train)


def test_flips_follow_their_crop_and_the_batch_needs_one_copy():
    """Each output row is flipped by the flip of the position whose crop it holds (a bad slot's copy too);
    the offsets, flips and row order reach the device in one copy (pinned and asynchronous on CUDA): on a
    meta "device" exactly one CPU tensor becomes a device one."""
    images, job = batch(5, bad=(2,))  # unreadable: its slot takes position 3's crop, flip and label
    job.flip = np.array([1, 0, 1, 0, 1], bool)
    x, rows = assemble(images, job, 64, 48, train=True)
    plain, rows2 = assemble(images, Job(job.idx, job.uy, job.ux), 64, 48, train=True)
    assert rows.tolist() == rows2.tolist() == [0, 1, 3, 3, 4]
    expected = torch.where(torch.from_numpy(job.flip[rows]).view(-1, 1, 1, 1), plain.flip(-1), plain)
    assert torch.equal(x, expected) and not torch.equal(x, plain)
    on_device = [None if im is None else torch.empty_like(im, device="meta") for im in images]
    with HostToDevice() as spy:
        assert assemble(on_device, job, 64, 48, train=True)[0].shape == (5, 3, 48, 48)
    assert len(spy.copies) == 1


@pytest.mark.parametrize("ten", [False, True])
def test_ops_grow_with_the_shapes_not_the_images(ten):
    """9 or 33 images of the same 3 shapes (one unreadable): the same kernels, views aside (the per-image
    loop made about 6 per image)."""
    counts = []
    for n in (9, 33):
        images, job = batch(n, shapes=SIZES_HW[:3], bad=(1,))
        job = Job(job.idx, ten=True) if ten else job
        with OpCounter() as ops:
            assemble(images, job, 64, 48, train=not ten)
        counts.append([f for f in ops.ops if not f.is_view])
    assert counts[0] == counts[1] and len(counts[0]) < 20, counts


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
