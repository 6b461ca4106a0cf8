"""docs/extending.md, kept true: a new activation is one registry entry, a new dataset one module (its
`DatasetEntry`) plus one YAML file, and either trains in-process through the one trainer with nothing else
changed. (A new table is one YAML file: tests/unit/test_table_recipes.py trains one.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from crelu_repro.data import DATASETS, DatasetEntry, RawData, Split
from crelu_repro.data.cifar import device_feeder
from crelu_repro.data.evaluate import single_crop
from crelu_repro.models import build_variant, label, variant_of
from crelu_repro.models.activations import ACTIVATIONS, BASES, Activation
from crelu_repro.run.checks import validate
from crelu_repro.run.compose import compose
from crelu_repro.run.identity import identity
from tests.helpers import TINY, train_in_process


class SignedBase(nn.Module):
    """A x2 activation over a base, other than CReLU: cat([base(x), x], 1) (the linear phase kept)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = BASES[base]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.base(x), x], dim=1)  # (N, C, ...) -> (N, 2C, ...)


@pytest.fixture
def signed(monkeypatch):
    """The one edit of activations.py, as a test makes it: an entry in ACTIVATIONS."""
    monkeypatch.setitem(ACTIVATIONS, "signed", Activation(SignedBase, 2, takes_base=True))


def test_a_new_activation_is_one_registry_entry(signed, cifar_root, tmp_path):
    cfg = compose(
        [*TINY[:-1], "model=relu", "model.acts={conv1: signed}", "model.crelu_base=elu", "out_dir=."]
    )
    validate(cfg)  # known to the description's checks, its maps doubled in the shape trace
    net = build_variant(cfg.model, 10)
    assert net.layers.conv2.conv.in_channels == 2 * net.layers.conv1.conv.out_channels
    assert label(variant_of(cfg.model)) == "relu+signed@conv1+base_elu"
    assert identity(cfg)["model"]["crelu_base"] == "elu"  # it takes a base: the base is part of the network
    overrides = [*TINY[:-1], "model=relu", "model.acts={conv1: signed}", f"dataset.root={cifar_root}"]
    result = train_in_process(*overrides, out=tmp_path / "run")
    assert result["model"] == "relu+signed@conv1" and 0 <= result["test_error"] <= 100


CLASSES, SIDE = 4, 32


def read_shades(dataset) -> RawData:
    """Four classes of 32x32 images, each a brightness band plus noise; seeded: every read is the same."""
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        labels = np.arange(n) % CLASSES
        noise = rng.integers(0, 48, (n, 3, SIDE, SIDE))
        return Split((noise + 64 * labels[:, None, None, None]).astype(np.uint8), labels.astype(np.int64))

    train, test = split(256), split(64)
    if dataset.limit_train:
        train = train.take(np.arange(min(dataset.limit_train, len(train))))
    return RawData(train, test, CLASSES, fingerprint={"kind": "shades", "seed": 0})


# The module's export, as crelu_repro/data/<name>.py would have it: `ENTRIES = {"shades": SHADES}`.
SHADES = DatasetEntry(
    read_shades, device_feeder, single_crop, ignores=("resize", "num_workers", "max_pixels")
)
YAML = """\
# A dataset of the test's own: 4 brightness bands (tests/unit/test_extending.py).
defaults: [_shared]
name: shades
num_classes: 4            # ours: four bands
flip: true                # ours: the bands do not care
crop_padding: 4           # ours: as CIFAR
image_size: 32            # ours: the reader's images
"""


def test_a_new_dataset_is_one_module_and_one_yaml(tmp_path, monkeypatch):
    monkeypatch.setitem(DATASETS, "shades", SHADES)  # what the package's layout does for its own modules
    (tmp_path / "configs" / "dataset").mkdir(parents=True)
    (tmp_path / "configs" / "dataset" / "shades.yaml").write_text(YAML)
    search = f"hydra.searchpath=[file://{tmp_path / 'configs'}]"  # the YAML beside crelu_repro/configs/
    overrides = [*TINY, search, "dataset=shades", "trainer.epochs=3", "sched=constant", "optim.lr=0.01"]
    result = train_in_process(*overrides, out=tmp_path / "run")
    assert result["dataset"] == "shades" and (result["num_train"], result["num_test"]) == (256, 64)
    assert result["test_error"] < 75  # better than chance over 4 classes: the bands are learned
    scores = np.load(tmp_path / "run" / "test_scores.npy")
    assert scores.shape == (64, CLASSES)
    with pytest.raises(Exception, match="dataset.resize=300 has no effect with dataset.name=shades"):
        validate(compose([*overrides, "dataset.resize=300", "out_dir=."]))  # its own `ignores` hold
