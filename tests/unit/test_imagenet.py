"""ImageNet loader: scanning and layout errors, training/eval batches, decoding, unreadable files, 10-patch.

The fixture's images are real JPEGs whose class shows as the brightest channel, so every yielded (x, y)
can be checked for label alignment (see tests/helpers/imagenet.py).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.datasets import ImageFolder
from torchvision.io import ImageReadMode, decode_jpeg, read_file
from torchvision.transforms import CenterCrop, InterpolationMode, Resize, TenCrop
from torchvision.transforms.v2.functional import resize as tv_resize

from crelu_repro.core.errors import DatasetError
from crelu_repro.data.evaluate import ten_patch_from_logits, ten_patch_scores, topk_errors
from crelu_repro.data.imagenet.loader import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    FileSplit,
    ImageNetLoader,
    scan_imagenet,
)
from tests.helpers.imagenet import WNIDS, class_image, truncate, write_imagenet

CPU = torch.device("cpu")
# torchvision 0.29 deprecates its JPEG decoders (in favour of TorchCodec); the GPU machines run 0.26.
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_imagenet(tmp_path_factory.mktemp("imagenet"))  # 3 classes x 6 train, x 2 val


def make(split: FileSplit, **kw) -> ImageNetLoader:
    return ImageNetLoader(split.paths, split.labels, CPU, **{"num_workers": 0, **kw})


def pixels(x: torch.Tensor) -> torch.Tensor:
    """Undo the normalization: (B, 3, H, W) back in pixel units."""
    return x.float() * STD + MEAN


def assert_aligned(x: torch.Tensor, y: torch.Tensor) -> None:
    """The brightest channel of each crop is its label (the fixture's class colour)."""
    assert torch.equal(pixels(x).mean((2, 3)).argmax(1), y)


def epoch(loader: ImageNetLoader, batch: int = 4, seed: int = 0, ep: int = 0, **kw) -> list:
    return list(loader.train_epoch(batch, seed, ep, **kw))


def test_scan_matches_imagefolder(tree):
    files = scan_imagenet(tree)
    assert files.classes == WNIDS and files.num_classes == 3
    for split, n in (("train", 18), ("val", 6)):
        ref = ImageFolder(str(tree / split)).samples  # torchvision's order: class, then file name
        got = getattr(files, split)
        assert len(got) == n and got.labels.dtype == np.int64
        assert list(zip(got.paths, got.labels.tolist(), strict=True)) == ref


def test_limits_take_classes_round_robin(tree):
    files = scan_imagenet(tree, limit_train=4, limit_test=3)
    assert files.train.labels.tolist() == [0, 0, 1, 2]  # 1st of each class, then 2nd of class 0
    full = scan_imagenet(tree)
    assert files.train.paths == [full.train.paths[i] for i in (0, 1, 6, 12)]
    assert files.val.labels.tolist() == [0, 1, 2]
    assert len(scan_imagenet(tree, limit_train=1000).train) == 18  # a limit above N keeps everything


def test_fingerprint_describes_the_files_not_their_folder_or_the_limits(tree, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(tree, moved)
    base = scan_imagenet(tree).fingerprint
    assert base["kind"] == "imagenet" and (base["train"]["files"], base["val"]["files"]) == (18, 6)
    assert scan_imagenet(moved).fingerprint == base
    assert scan_imagenet(moved, limit_train=4, limit_test=2).fingerprint == base  # limits are config

    first = moved / "train" / WNIDS[0] / f"{WNIDS[0]}_0.JPEG"
    first.rename(first.with_name("renamed.JPEG"))
    renamed = scan_imagenet(moved).fingerprint
    assert renamed["train"]["sha256"] != base["train"]["sha256"] and renamed["val"] == base["val"]
    assert renamed["train"]["files"] == 18
    shutil.copy(first.with_name("renamed.JPEG"), moved / "val" / WNIDS[1] / "extra.JPEG")
    added = scan_imagenet(moved).fingerprint
    assert added["val"]["files"] == 7 and added["val"]["sha256"] != base["val"]["sha256"]


def test_extensions_case_insensitive(tmp_path):
    root = write_imagenet(tmp_path, per_class=1, val_per_class=1)
    src = root / "train" / WNIDS[0] / f"{WNIDS[0]}_0.JPEG"
    shutil.copy(src, src.with_name("b.jpg"))
    shutil.copy(src, src.with_name("c.Jpeg"))
    (src.parent / "notes.txt").write_text("not an image")
    assert [Path(p).name for p in scan_imagenet(root).train.paths[:3]] == ["b.jpg", "c.Jpeg", src.name]


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetError, match="never downloaded"):
        scan_imagenet(tmp_path / "nowhere")
    (tmp_path / "bare" / "train" / "n0").mkdir(parents=True)
    (tmp_path / "bare" / "val").mkdir()
    with pytest.raises(DatasetError, match=r"no JPEG images .*train/<wnid>/\*\.JPEG"):
        scan_imagenet(tmp_path / "bare")

    root = write_imagenet(tmp_path / "a", per_class=1, val_per_class=1)
    (root / "train" / "n09999999").mkdir()
    with pytest.raises(DatasetError, match=r"class folder\(s\) with no JPEG files: .*n09999999 \(empty\)"):
        scan_imagenet(root)

    root = write_imagenet(tmp_path / "b", per_class=1, val_per_class=1)
    shutil.move(root / "val" / WNIDS[2], root / "val" / "n09999999")
    with pytest.raises(DatasetError, match="val/ has 1 class.*n09999999"):
        scan_imagenet(root)

    root = write_imagenet(tmp_path / "c", per_class=1, val_per_class=1)
    for d in (root / "val").iterdir():  # the raw ILSVRC val tarball: images not sorted into classes
        for f in d.iterdir():
            f.rename(root / "val" / f.name)
        d.rmdir()
    with pytest.raises(DatasetError, match="class folders"):
        scan_imagenet(root)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_train_batches(tree, dtype):
    loader = make(scan_imagenet(tree).train, dtype=dtype, channels_last=dtype == torch.bfloat16)
    assert len(loader) == 18 and loader.steps_per_epoch(4) == 4  # drop_last
    batches = epoch(loader)
    assert len(batches) == 4
    low, high = ((0 - MEAN) / STD).min().item(), ((255 - MEAN) / STD).max().item()
    seen = torch.cat([y for _, y in batches])
    assert len(set(seen.tolist())) == 3 and loader.unreadable == []
    for x, y in batches:
        assert x.shape == (4, 3, 224, 224) and x.dtype == dtype and y.dtype == torch.int64
        assert x.is_contiguous(memory_format=torch.channels_last) == (dtype == torch.bfloat16)
        assert low - 0.02 <= x.min().item() and x.max().item() <= high + 0.02 and x.std() > 0.3
        assert_aligned(x, y)


def test_train_determinism_ranks_and_resume(tree):
    loader = make(scan_imagenet(tree).train)
    ref = epoch(loader, seed=3, ep=1)
    for (x, y), (x2, y2) in zip(ref, epoch(loader, seed=3, ep=1), strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(ref, epoch(loader, seed=3, ep=2), strict=True))
    ranks = [epoch(loader, seed=3, ep=1, rank=r, world=2) for r in (0, 1)]
    for (x, y), (x0, y0), (x1, y1) in zip(ref, *ranks, strict=True):
        assert (
            x0.shape[0] == 2 and torch.equal(torch.cat([x0, x1]), x) and torch.equal(torch.cat([y0, y1]), y)
        )
    tail = epoch(loader, seed=3, ep=1, start_step=2)
    assert len(tail) == 2 and all(torch.equal(a[0], b[0]) for a, b in zip(ref[2:], tail, strict=True))


def _find_window(big: torch.Tensor, crop: torch.Tensor) -> tuple[int, int] | None:
    """The (y, x) where `crop` (3, c, c) sits in `big` (3, H, W), or None."""
    c = crop.shape[-1]
    for y in range(big.shape[1] - c + 1):
        row = big[:, y, :].unfold(1, c, 1)  # (3, W - c + 1, c)
        for x in torch.nonzero((row == crop[:, 0, None, :]).all(2).all(0)).flatten().tolist():
            if torch.equal(big[:, y : y + c, x : x + c], crop):
                return y, x
    return None


def test_train_crops_are_random_windows_of_the_resized_image(tree):
    """Each training crop is a 224 window of the shorter-side-256 image or its mirror, at varied places."""
    split = scan_imagenet(tree).train
    loader = make(split, num_workers=0)
    order = loader.plan(6, 0, 0)[0].flatten()
    x = pixels(torch.cat([x for x, _ in loader.train_epoch(6, 0, 0)])).round().to(torch.uint8)
    spots, flips = set(), 0
    for i, crop in zip(order.tolist(), x, strict=True):
        resized = tv_resize(decode_jpeg(read_file(split.paths[i]), mode=ImageReadMode.RGB), [256])
        assert min(resized.shape[1:]) == 256
        spot = _find_window(resized, crop)
        if spot is None:
            spot, flips = _find_window(resized.flip(-1), crop), flips + 1
        assert spot is not None
        spots.add(spot)
    assert 0 < flips < 18 and len(spots) > 9


def test_eval_center_crop_matches_pil(tree):
    split = scan_imagenet(tree).train
    loader = make(split, train=False)
    batches = list(loader.eval_batches(5))
    assert [x.shape[0] for x, _ in batches] == [5, 5, 5, 3]
    x = pixels(torch.cat([x for x, _ in batches]))
    assert torch.equal(torch.cat([y for _, y in batches]), torch.from_numpy(split.labels))
    for path, got in zip(split.paths, x, strict=True):
        ref = CenterCrop(224)(Resize(256, InterpolationMode.BILINEAR)(Image.open(path).convert("RGB")))
        diff = (got - torch.from_numpy(np.array(ref)).permute(2, 0, 1).float()).abs()
        assert diff.max() <= 1.01 and diff.mean() < 0.05  # uint8 rounding of the same bilinear filter
    shards = [torch.cat([x for x, _ in loader.eval_batches(4, r, 2)]) for r in (0, 1)]
    assert torch.allclose(pixels(torch.cat(shards)), x)  # contiguous shards in dataset order


@pytest.fixture(scope="module")
def odd_tree(tmp_path_factory) -> Path:
    """The train folder has one grayscale and one CMYK JPEG (class 1's colour, converted)."""
    root = write_imagenet(tmp_path_factory.mktemp("odd"), per_class=2, val_per_class=1)
    folder = root / "train" / WNIDS[1]
    class_image(1, 300, 200, seed=5).convert("L").save(folder / f"{WNIDS[1]}_0.JPEG", quality=95)
    class_image(1, 200, 300, seed=6).convert("CMYK").save(folder / f"{WNIDS[1]}_1.JPEG", quality=95)
    return root


@pytest.mark.parametrize("decode", ["workers", "device"])
def test_grayscale_and_cmyk_become_rgb(odd_tree, decode):
    split = scan_imagenet(odd_tree).train
    x = pixels(torch.cat([x for x, _ in make(split, train=False, decode=decode).eval_batches(6)]))
    assert x.shape == (6, 3, 224, 224)
    gray, cmyk = x[2], x[3]
    assert (gray[0] - gray[1]).abs().max() < 1e-3 and (gray[0] - gray[2]).abs().max() < 1e-3
    expected_gray = 0.299 * 50 + 0.587 * 200 + 0.114 * 50  # ITU-R 601 luma of the class colour
    assert abs(gray.mean().item() - expected_gray) < 8
    assert cmyk.mean((1, 2)).argmax() == 1  # still green, not inverted or channel-swapped
    assert torch.allclose(cmyk.mean((1, 2)), torch.tensor([50.0, 200.0, 50.0]), atol=8)


def test_workers_and_device_decode_agree(odd_tree):
    split = scan_imagenet(odd_tree).train
    a = epoch(make(split, decode="workers", num_workers=2), batch=3)  # crops from worker processes
    b = epoch(make(split, decode="device", num_workers=2), batch=3)  # bytes from workers
    for (x, y), (x2, y2) in zip(a, b, strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)


def _corrupt(path: str, kind: str) -> None:
    if kind == "truncated":
        truncate(Path(path))
    elif kind == "missing":  # deleted after the scan
        Path(path).unlink()
    else:
        Path(path).write_bytes(b"<html>404 not found</html>" * 50)


@pytest.mark.parametrize(
    ("kind", "decode"), [("truncated", "workers"), ("garbage", "device"), ("missing", "device")]
)
def test_unreadable_file_is_skipped_and_counted(tmp_path, caplog, kind, decode):
    split = scan_imagenet(write_imagenet(tmp_path)).train
    loader = make(split, decode=decode)
    order = loader.plan(6, 0, 0)[0]  # (3 steps, 6)
    # Break a file whose batch neighbour is of another class: a wrong label would show.
    step, slot = next(
        (s, j) for s in range(3) for j in range(5) if np.diff(split.labels[order[s, j : j + 2]])
    )
    bad = split.paths[order[step, slot]]
    _corrupt(bad, kind)
    with caplog.at_level(logging.WARNING, logger="crelu_repro"):
        batches = epoch(loader, batch=6)  # 3 full steps: every file is read once
    assert loader.unreadable == [bad] and bad in caplog.text
    for x, y in batches:
        assert x.shape[0] == 6
        assert_aligned(x, y)
    x, y = batches[step]  # the bad slot holds a copy of the next readable image of its batch, label too
    assert torch.equal(x[slot], x[slot + 1]) and y[slot] == y[slot + 1] == split.labels[order[step, slot + 1]]
    ev = make(split, train=False, decode=decode)
    got = torch.cat([y for _, y in ev.eval_batches(4)])  # evaluation drops it: 17 rows
    assert torch.equal(got, torch.from_numpy(np.delete(split.labels, split.paths.index(bad))))
    assert ev.unreadable == [bad]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crelu_repro"):
        epoch(loader, batch=6, ep=1)
    assert bad not in caplog.text and loader.unreadable == [bad]  # warned about once


def test_too_many_unreadable_raise(tmp_path):
    split = scan_imagenet(write_imagenet(tmp_path)).train
    for i in (1, 16):  # 2 of 18: far above 0.1%
        _corrupt(split.paths[i], "truncated")
    loader = make(split)
    with pytest.raises(DatasetError, match=r"unreadable \(more than 0\.1%\)"):
        epoch(loader, batch=18)


class _Tiny(nn.Module):
    def __init__(self, classes: int = 7) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 9, 4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.fc = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x))


@pytest.mark.parametrize("shape", [(256, 257), (259, 256), (256, 256)])
def test_ten_patch_scores_match_tencrop(shape):
    torch.manual_seed(0)
    model, images = _Tiny().eval(), torch.randn(3, 3, *shape)
    with torch.no_grad():
        got = ten_patch_scores(model, images)
        ref = torch.stack([model(torch.stack(TenCrop(224)(im))).softmax(-1).mean(0) for im in images])
        center = torch.stack([model(CenterCrop(224)(im)[None]).softmax(-1)[0] for im in images])
        center_got, ten_got = ten_patch_from_logits(
            model(torch.cat([torch.stack(TenCrop(224)(im)) for im in images]))
        )
    assert got.shape == (3, 7) and torch.allclose(got, ref, atol=1e-5)
    assert torch.allclose(ten_got, ref, atol=1e-5) and torch.allclose(center_got, center, atol=1e-5)


def test_eval_ten_patch_batches(tree):
    split = scan_imagenet(tree).val
    loader = make(split, train=False)
    center = torch.cat([x for x, _ in loader.eval_batches(4)])
    batches = list(loader.eval_batches(4, ten_patch=True))
    x, y = torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])
    assert x.shape == (60, 3, 224, 224) and torch.equal(y, torch.from_numpy(split.labels))
    assert torch.equal(x[4::10], center)  # crop 4 of each image is the single center crop
    torch.manual_seed(0)
    model = _Tiny().eval()
    with torch.no_grad():
        _, ten = ten_patch_from_logits(model(x))
        for i, path in enumerate(split.paths):  # the same as ten_patch_scores on the whole resized image
            resized = tv_resize(decode_jpeg(read_file(path), mode=ImageReadMode.RGB), [256])[None]
            ref = ten_patch_scores(model, (resized.float() - MEAN) / STD)
            assert torch.allclose(ten[i], ref[0], atol=1e-5)


def test_topk_errors():
    scores = torch.tensor(
        [
            [0.9, 0.05, 0.02, 0.01, 0.01, 0.01],  # label 0: top-1 hit
            [0.5, 0.2, 0.1, 0.08, 0.07, 0.05],  # label 3: 4th, a top-5 hit only
            [0.3, 0.25, 0.2, 0.15, 0.06, 0.04],  # label 5: last, missed by both
            [0.1, 0.6, 0.1, 0.1, 0.05, 0.05],  # label 1: top-1 hit
        ]
    )
    errors = topk_errors(scores, torch.tensor([0, 3, 5, 1]))
    assert errors == pytest.approx({1: 50.0, 5: 25.0})
    assert topk_errors(scores[:, :3], torch.tensor([0, 1, 2, 1]), ks=(1, 5)) == pytest.approx(
        {1: 50.0, 5: 0.0}
    )
