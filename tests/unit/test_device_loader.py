"""DeviceLoader: crops, flips, normalization, shard/slice bookkeeping, determinism, on small synthetic data.

Labels are `arange(N)`, so a label names its image: every yielded (x, y) can be traced back to the source.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crelu_repro.data.device_loader import DeviceLoader, channel_stats
from tests.helpers.device_spy import HostToDevice

N = 200
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    # Skewed channels, so the per-channel statistics are distinct and far from (0, 1).
    images = rng.integers(0, 256, size=(N, 3, 32, 32), dtype=np.uint8)
    images[:, 0] //= 2
    images[:, 2] = 255 - images[:, 2] // 4
    return images, np.arange(N, dtype=np.int64)


def make(data, **kw) -> DeviceLoader:
    images, labels = data
    mean, std = channel_stats(images)
    return DeviceLoader(images.copy(), labels.copy(), mean, std, CPU, **kw)


def normalize(x: torch.Tensor, loader: DeviceLoader) -> torch.Tensor:
    """The reference normalization, computed independently: per channel, float32, pixel units."""
    mean = loader.mean.reshape(3).cpu()
    std = loader.std.reshape(3).cpu()
    return (x.float() - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)


def source(data) -> torch.Tensor:
    return torch.from_numpy(data[0])


# ---------------------------------------------------------------- crop


def test_crop_matches_padded_window_from_plan(data):
    loader = make(data, crop_padding=4, flip=False)
    batch, seed, epoch = 64, 3, 1
    plan = loader.plan(batch, seed, epoch)
    x, y = next(iter(loader.train_epoch(batch, seed, epoch)))
    assert x.shape == (batch, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(y, plan.order[0])  # labels are the indices
    imgs = source(data)
    expected = []
    for i in range(batch):
        idx, dy, dx = int(plan.order[0, i]), int(plan.dy[0, i]), int(plan.dx[0, i])
        assert 0 <= dy <= 8 and 0 <= dx <= 8
        padded = F.pad(imgs[idx].float(), (4, 4, 4, 4))  # zeros in pixel units, i.e. black
        expected.append(normalize(padded[:, dy : dy + 32, dx : dx + 32], loader))
    torch.testing.assert_close(x, torch.stack(expected), rtol=0, atol=1e-5)


def test_crop_every_image_is_some_window(data):
    """Independent of the plan: each yielded image is one of the 81 windows of its padded source."""
    loader = make(data, crop_padding=4, flip=False)
    imgs = source(data)
    x, y = next(iter(loader.train_epoch(50, seed=0, epoch=0)))
    for xi, yi in zip(x, y, strict=True):
        padded = normalize(F.pad(imgs[int(yi)].float(), (4, 4, 4, 4)), loader)
        windows = padded.unfold(1, 32, 1).unfold(2, 32, 1)  # (3, 9, 9, 32, 32)
        diff = (windows - xi[:, None, None]).abs().amax(dim=(0, 3, 4))  # (9, 9)
        assert diff.min() < 1e-5


def test_crop_offsets_cover_range(data):
    loader = make(data, crop_padding=4)
    plan = loader.plan(200, seed=0, epoch=0)
    for off in (plan.dy, plan.dx):
        assert off.min() == 0 and off.max() == 8
        assert set(off.flatten().tolist()) == set(range(9))
    assert not torch.equal(plan.dy, plan.dx)  # drawn independently


def test_no_padding_no_flip_is_identity(data):
    loader = make(data)
    imgs = source(data)
    for x, y in loader.train_epoch(40, seed=1, epoch=0):
        torch.testing.assert_close(x, normalize(imgs[y], loader), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- flip


def test_flip_follows_plan_and_is_about_half(data):
    loader = make(data, crop_padding=0, flip=True)
    imgs = source(data)
    batch, flipped, total = 100, 0, 0
    for epoch in range(5):  # 5 epochs x 2 steps x 100 = 1,000 draws
        plan = loader.plan(batch, seed=7, epoch=epoch)
        for step, (x, y) in enumerate(loader.train_epoch(batch, seed=7, epoch=epoch)):
            assert torch.equal(y, plan.order[step])
            orig = normalize(imgs[y], loader)
            mirrored = orig.flip(-1)
            f = plan.flip[step].view(-1, 1, 1, 1)
            torch.testing.assert_close(x, torch.where(f, mirrored, orig), rtol=0, atol=1e-5)
            # and the image really is a mirror when flagged (random images are never symmetric)
            is_mirror = (x - mirrored).abs().amax(dim=(1, 2, 3)) < 1e-5
            is_orig = (x - orig).abs().amax(dim=(1, 2, 3)) < 1e-5
            assert torch.equal(is_mirror, plan.flip[step]) and torch.equal(is_orig, ~plan.flip[step])
            flipped += int(is_mirror.sum())
            total += len(y)
    assert total == 1000
    assert 450 <= flipped <= 550


def test_flip_disabled_never_flips(data):
    loader = make(data, crop_padding=0, flip=False)
    imgs = source(data)
    for x, y in loader.train_epoch(100, seed=7, epoch=0):
        torch.testing.assert_close(x, normalize(imgs[y], loader), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- normalization


def test_channel_stats_matches_numpy_float64(data):
    images = data[0]
    mean, std = channel_stats(images)
    assert mean.shape == std.shape == (3,)
    ref = images.astype(np.float64)
    np.testing.assert_allclose(mean.numpy(), ref.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), ref.std(axis=(0, 2, 3)), rtol=1e-6)
    assert len(set(np.round(mean.numpy(), 1).tolist())) == 3  # the fixture's channels really differ


def test_eval_batches_are_standardized(data):
    loader = make(data)
    x = torch.cat([x for x, _ in loader.eval_batches(64)])
    assert x.shape == (N, 3, 32, 32) and x.dtype == torch.float32
    xd = x.double()
    mean = xd.mean(dim=(0, 2, 3))
    std = xd.std(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(mean, torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-3)
    torch.testing.assert_close(std, torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-3)
    torch.testing.assert_close(x, normalize(source(data), loader), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- eval sharding


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("batch", [32, 200, 500])
def test_eval_batches_cover_split_in_order(data, world, batch):
    loader = make(data)
    imgs = source(data)
    xs, ys, sizes = [], [], []
    for rank in range(world):
        shard = list(loader.eval_batches(batch, rank=rank, world=world))
        assert all(len(y) <= batch for _, y in shard)
        sizes.append(sum(len(y) for _, y in shard))
        xs += [x for x, _ in shard]
        ys += [y for _, y in shard]
    assert N % 3 != 0  # world=3 exercises uneven shards
    assert max(sizes) - min(sizes) <= 1
    assert torch.equal(torch.cat(ys), torch.arange(N))  # dataset order, each exactly once
    torch.testing.assert_close(torch.cat(xs), normalize(imgs, loader), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- global-batch slicing


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_slice_the_global_batch(data, world):
    loader = make(data, crop_padding=4, flip=True)
    batch = 48
    single = list(loader.train_epoch(batch, seed=5, epoch=2))
    per_rank = [list(loader.train_epoch(batch, seed=5, epoch=2, rank=r, world=world)) for r in range(world)]
    assert all(len(steps) == len(single) == N // batch for steps in per_rank)
    for step, (x1, y1) in enumerate(single):
        parts = [per_rank[r][step] for r in range(world)]
        assert all(len(y) == batch // world for _, y in parts)
        assert torch.equal(torch.cat([y for _, y in parts]), y1)
        assert torch.equal(torch.cat([x for x, _ in parts]), x1)


# ---------------------------------------------------------------- determinism and resume


def epoch_of(loader, **kw):
    return list(loader.train_epoch(**kw))


def test_same_seed_and_epoch_replay_exactly(data):
    a = make(data, crop_padding=4, flip=True)
    b = make(data, crop_padding=4, flip=True)
    ea = epoch_of(a, global_batch=32, seed=11, epoch=4)
    eb = epoch_of(b, global_batch=32, seed=11, epoch=4)
    assert len(ea) == len(eb) == N // 32
    for (xa, ya), (xb, yb) in zip(ea, eb, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_other_epoch_or_seed_changes_order(data):
    loader = make(data, crop_padding=4, flip=True)
    base = torch.cat([y for _, y in epoch_of(loader, global_batch=32, seed=11, epoch=4)])
    other_epoch = torch.cat([y for _, y in epoch_of(loader, global_batch=32, seed=11, epoch=5)])
    other_seed = torch.cat([y for _, y in epoch_of(loader, global_batch=32, seed=12, epoch=4)])
    assert not torch.equal(base, other_epoch)
    assert not torch.equal(base, other_seed)
    p4, p5 = loader.plan(32, 11, 4), loader.plan(32, 11, 5)
    assert not torch.equal(p4.dy, p5.dy) and not torch.equal(p4.flip, p5.flip)


@pytest.mark.parametrize("k", [0, 1, 3, 5, 6])
def test_start_step_yields_the_tail(data, k):
    loader = make(data, crop_padding=4, flip=True)
    full = epoch_of(loader, global_batch=32, seed=2, epoch=9)
    assert len(full) == 6
    tail = epoch_of(loader, global_batch=32, seed=2, epoch=9, start_step=k)
    assert len(tail) == len(full) - k
    for (xa, ya), (xb, yb) in zip(tail, full[k:], strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_start_step_with_ranks(data):
    loader = make(data, crop_padding=4, flip=True)
    full = epoch_of(loader, global_batch=32, seed=2, epoch=9, rank=1, world=2)
    tail = epoch_of(loader, global_batch=32, seed=2, epoch=9, rank=1, world=2, start_step=2)
    assert len(tail) == len(full) - 2
    for (xa, ya), (xb, yb) in zip(tail, full[2:], strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# ---------------------------------------------------------------- drop_last


@pytest.mark.parametrize("batch", [1, 7, 32, 64, 199, 200])
def test_drop_last_and_no_duplicates(data, batch):
    loader = make(data, crop_padding=4, flip=True)
    assert loader.steps_per_epoch(batch) == N // batch
    steps = epoch_of(loader, global_batch=batch, seed=0, epoch=1)
    assert len(steps) == N // batch
    assert all(x.shape == (batch, 3, 32, 32) and y.shape == (batch,) for x, y in steps)
    seen = torch.cat([y for _, y in steps])
    assert len(seen) == (N // batch) * batch
    assert len(torch.unique(seen)) == len(seen)  # distinct images within the epoch
    assert int(seen.min()) >= 0 and int(seen.max()) < N


def test_batch_larger_than_split_gives_no_steps(data):
    loader = make(data)
    assert loader.steps_per_epoch(N + 1) == 0
    assert epoch_of(loader, global_batch=N + 1, seed=0, epoch=0) == []


def test_epoch_order_is_a_shuffle(data):
    loader = make(data)
    seen = torch.cat([y for _, y in epoch_of(loader, global_batch=200, seed=0, epoch=0)])
    assert sorted(seen.tolist()) == list(range(N))
    assert not torch.equal(seen, torch.arange(N))


# ---------------------------------------------------------------- dtype / memory format


def test_bfloat16_output(data):
    loader = make(data, dtype=torch.bfloat16, crop_padding=4, flip=True)
    ref = make(data, crop_padding=4, flip=True)
    (x, _), (xr, _) = next(iter(loader.train_epoch(32, 0, 0))), next(iter(ref.train_epoch(32, 0, 0)))
    assert x.dtype == torch.bfloat16
    torch.testing.assert_close(x.float(), xr, rtol=1e-2, atol=1e-2)  # same values, rounded
    xe, ye = next(iter(loader.eval_batches(32)))
    assert xe.dtype == torch.bfloat16 and ye.dtype == torch.int64


@pytest.mark.parametrize("channels_last", [False, True])
def test_channels_last(data, channels_last):
    loader = make(data, channels_last=channels_last, crop_padding=4, flip=True)
    ref = make(data, crop_padding=4, flip=True)
    x, _ = next(iter(loader.train_epoch(32, 0, 0)))
    xe, _ = next(iter(loader.eval_batches(32)))
    for t in (x, xe):
        assert t.is_contiguous(memory_format=torch.channels_last) == channels_last
        assert t.is_contiguous() == (not channels_last)
    assert torch.equal(x, next(iter(ref.train_epoch(32, 0, 0)))[0])  # layout only, same values


def test_labels_are_int64_and_match_images(data):
    images, _ = data
    labels = np.random.default_rng(1).integers(0, 10, size=N).astype(np.int32)
    mean, std = channel_stats(images)
    loader = DeviceLoader(images, labels, mean, std, CPU, crop_padding=0, flip=False)
    imgs = source(data)
    plan = loader.plan(50, 0, 0)
    for step, (x, y) in enumerate(loader.train_epoch(50, 0, 0)):
        assert y.dtype == torch.int64
        idx = plan.order[step]
        assert torch.equal(y, torch.from_numpy(labels.astype(np.int64))[idx])
        torch.testing.assert_close(x, normalize(imgs[idx], loader), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- plan on the CPU, whatever the device


def test_plan_is_drawn_on_the_cpu_and_copied_once(data):
    """A CPU checkpoint resumed mid-epoch on CUDA must replay the same batches: the plan comes from a CPU
    generator and reaches the device in one copy. On a `meta` device (no generator of its own: a device
    generator would fail here) the one host-to-device copy carries exactly the CPU loader's plan."""
    images, labels = data
    mean, std = channel_stats(images)
    cpu_plan = make(data, crop_padding=4, flip=True).plan(32, seed=3, epoch=2)
    meta = DeviceLoader(images, labels, mean, std, torch.device("meta"), crop_padding=4, flip=True)
    with HostToDevice() as spy:
        plan = meta.plan(32, seed=3, epoch=2)
    assert len(spy.copies) == 1 and plan.order.is_meta and plan.flip.dtype == torch.bool
    (copied,) = spy.sources[0]  # (4, steps, batch): order, dy, dx, flip
    expected = torch.stack([cpu_plan.order, cpu_plan.dy, cpu_plan.dx, cpu_plan.flip.long()])
    assert torch.equal(copied, expected)
    x, y = next(iter(meta.train_epoch(32, seed=3, epoch=2)))  # the gather runs on the device's plan
    assert x.shape == (32, 3, 32, 32) and y.shape == (32,) and x.is_meta
    with HostToDevice() as spy:  # the epoch's batches need no further copy
        assert len(list(meta.train_epoch(32, seed=3, epoch=2))) == N // 32
    assert len(spy.copies) == 1
