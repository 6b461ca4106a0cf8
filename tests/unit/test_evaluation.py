"""Evaluation keeps only what its figures need: one flag per image for a top-1 error, per-image top-k hits
and the center scores for the ImageNet test, whose batches count model inputs (10 crops per image)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from crelu_repro.core.distributed import Dist
from crelu_repro.data.evaluate import (
    evaluate,
    evaluate_ten_patch,
    ten_patch_from_logits,
    top1_error,
    topk_errors,
)
from crelu_repro.data.imagenet.loader import ImageNetLoader, scan_imagenet
from crelu_repro.run.compose import compose
from crelu_repro.train.build import make_runtime
from tests.helpers.imagenet import write_imagenet

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
CPU = torch.device("cpu")


class Largest(TorchDispatchMode):
    """The largest tensor any op makes (numel)."""

    def __init__(self) -> None:
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        sizes = [t.numel() for t in tree_leaves(out) if isinstance(t, torch.Tensor)]
        self.numel = max([self.numel, *sizes])
        return out


class Batches:
    """A loader of fixed random (x, y) batches: (B, 8) features, labels among `classes`."""

    def __init__(self, n: int, classes: int) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, 8, generator=gen), torch.randint(0, classes, (n,), generator=gen)

    def eval_batches(self, batch: int, rank: int = 0, world: int = 1):
        for s in range(0, len(self.y), batch):
            yield self.x[s : s + batch], self.y[s : s + batch]


def runtime():
    return make_runtime(compose(["trainer.device=cpu"]), CPU, Dist())


def test_top1_error_keeps_one_flag_per_image():
    """1,000 images x 2,000 classes: the split's scores (2M values) are never built, only (B, classes)."""
    torch.manual_seed(0)
    model, data, rt = nn.Linear(8, 2000), Batches(1000, 2000), runtime()
    data.y[::3] = model(data.x[::3]).argmax(1).detach()  # a third right for sure: an error well below 100
    with Largest() as spy:
        error = top1_error(model, data, 100, rt)
    assert spy.numel <= 100 * 2000
    assert error == pytest.approx(evaluate(model, data, 100, rt)[0]) and error < 70


class Spy(nn.Module):
    """Records its input batch sizes; scores a crop by its channel means (the fixture's class colour), but
    prefers class 3 to class 1: class 1's images are top-1 misses and top-5 hits."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, classes))
        with torch.no_grad():
            self.net[2].weight.copy_(torch.eye(classes, 3))
            self.net[2].bias.zero_()
            self.net[2].weight[1, 1], self.net[2].weight[3, 1] = 0.5, 1.0
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        return self.net(x)


def test_ten_patch_batches_count_model_inputs_and_keep_hits(tmp_path: Path):
    split = scan_imagenet(write_imagenet(tmp_path, per_class=1, val_per_class=5)).val  # 15 images
    loader = ImageNetLoader(split.paths, split.labels, CPU, train=False, num_workers=0)
    torch.manual_seed(0)
    model, rt = Spy(6).eval(), runtime()
    errors, center, labels = evaluate_ten_patch(model, loader, 40, rt)  # 40 inputs: 4 images x 10 crops
    assert model.sizes == [40, 40, 40, 30]
    with torch.no_grad():  # the reference: the whole pass's scores at once
        x = torch.cat([x for x, _ in loader.eval_batches(15, ten_patch=True)])
        ref_center, ref_ten = ten_patch_from_logits(model.net(x))
    ref_labels = torch.from_numpy(split.labels)
    single, patched = topk_errors(ref_center, ref_labels), topk_errors(ref_ten, ref_labels)
    want = {"test_error": single[1], "test_error_top5": single[5]}
    want.update(test_error_10patch=patched[1], test_error_top5_10patch=patched[5])
    assert errors == pytest.approx(want)
    assert errors["test_error"] == pytest.approx(100 / 3) and errors["test_error_top5"] == 0
    assert center.dtype == torch.float16 and torch.equal(labels, ref_labels)
    assert torch.allclose(center.float(), ref_center, atol=1e-3)
