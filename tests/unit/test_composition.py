"""Bad models and sizes fail at composition, before any data is read or any folder made: the classifier
always outputs the class count, the network's shapes are traced at the dataset's image size (meta device),
values have upper bounds, one training step's memory is estimated, and a value the run would ignore is
refused. Each is one line naming the layer, the value or the number."""

from __future__ import annotations

import pytest

from crelu_repro.core.errors import ConfigError
from crelu_repro.models import shapes
from tests.helpers import TINY, train_in_process

# The data is never looked at: a read would fail differently (and never downloads, even on the old code).
NO_DATA = ["dataset.root=/nonexistent/data", "dataset.download=false"]
IMAGENET = ["dataset=imagenet", "dataset.num_classes=4"]

CASES = {
    # the classifier: 20 logits for 10 classes used to train to the end (test_scores.npy was (N, 20))
    "crelu on convpool's classifier": (
        ["model=relu", "model.acts={conv8: crelu}"],
        "conv8 is the classifier: it must output the 10 class scores, and crelu (x2 maps) there would "
        "make 20",
    ),
    "crelu on all-cnn-b's classifier": (
        [*IMAGENET, "model=allcnnb_relu", "model.acts={conv12: crelu}"],
        "conv12 is the classifier: it must output the 4 class scores, and crelu (x2 maps) there would make 8",
    ),
    "a width on the classifier": (  # an IndexError mid-run
        ["model=relu", "model.widths={conv8: 0.5}"],
        "conv8 is the classifier: it must output the 10 class scores, and width 0.5 there would make 5",
    ),
    "an activation the fc classifier does not have": (  # built vgg_relu exactly, labelled as a new row
        ["model=vgg_relu", "model.acts={fc15: crelu}"],
        "fc15 is the classifier: a fully connected classifier has no activation",
    ),
    # shapes, traced at the dataset's image size (these were shape errors after the data was read)
    "all-cnn-b on cifar": (
        ["model=allcnnb_relu"],
        "model 'allcnnb_relu' (allcnnb) cannot take 32x32 images: conv9 (3x3 kernel, padding 0) gets a 1x1 "
        "map; it takes images of 63 px and more",
    ),
    "vgg on 64 px imagenet crops": (
        [*IMAGENET, "model=vgg_relu", "dataset.image_size=64"],
        "model 'vgg_relu' (vgg) cannot take 64x64 images: fc14 takes 512 features and gets 2048; it takes "
        "images of 32 to 63 px",
    ),
    "all-cnn-b on 32 px imagenet crops": (
        [*IMAGENET, "model=allcnnb_relu", "dataset.image_size=32"],
        "cannot take 32x32 images: conv9",
    ),
    # upper bounds and the memory estimate (an allocator traceback asking for 663 GB)
    "a width factor of 1000": (
        ["model.widths={conv1-7: 1000}"],
        "width 1000.0 at conv1 gives 96000 filters; a width factor must be > 0 and give a whole number of "
        "filters, at most 16x",
    ),
    "a crop padding of 1000": (
        ["dataset.crop_padding=1000"],
        "dataset.crop_padding=1000: must be an integer in [0, 16]",
    ),
    "a step that cannot fit": (
        ["model=crelu", "model.widths={conv1-7: 16}", "trainer.batch_size=8192", "trainer.bf16=false"],
        "model relu+crelu_x16@conv1-7 at trainer.batch_size=8192 needs at least 399.0 GB for one training "
        "step: 5.2 GB of weights and momentum (656,024,084 parameters) and 393.8 GB of "
        "activations",
    ),
    # values the run would ignore, yet record
    "an image size on cifar": (
        ["dataset.image_size=64"],
        "dataset.image_size=64 has no effect with dataset.name=cifar10: only imagenet reads it (default 32)",
    ),
    "a warm-up with the step schedule": (
        ["sched=step", "sched.warmup_epochs=2"],
        "sched.warmup_epochs=2.0 has no effect with sched.name=step: only cosine reads it",
    ),
    "a crop padding on imagenet": (
        [*IMAGENET, "model=allcnnb_relu", "dataset.crop_padding=4"],
        "dataset.crop_padding=4 has no effect with dataset.name=imagenet: only cifar10 and cifar100 read it",
    ),
    "a 300-character model name": (  # was told "use letters, digits"
        ["model.name=" + "a" * 300],
        "model.name is 300 characters long: a model's name becomes a directory name, of at most 160 "
        "characters",
    ),
}


@pytest.mark.parametrize("overrides, message", CASES.values(), ids=CASES.keys())
def test_refused_in_train_before_any_data_or_folder(tmp_path, overrides, message):
    with pytest.raises(ConfigError) as err:
        train_in_process(*TINY, *NO_DATA, *overrides, out=tmp_path / "run")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_the_memory_estimate_names_its_numbers(tmp_path, monkeypatch):
    """On a 1 GB device, crelu at batch 1024 surely needs more: its activations alone are 751,104 elements
    per image (conv1-7's outputs, CReLU doubled), 3.1 GB in fp32 (half that where bf16 autocast runs)."""
    monkeypatch.setattr(shapes, "capacity", lambda kind, rank, world: (10**9, "the test device"))
    with pytest.raises(ConfigError) as err:
        train_in_process(
            *TINY,
            *NO_DATA,
            "model=crelu",
            "trainer.batch_size=1024",
            "trainer.bf16=false",
            out=tmp_path / "run",
        )
    assert str(err.value).startswith(
        "model crelu at trainer.batch_size=1024 needs at least 3.1 GB for one training step: 0.0 GB of "
        "weights and momentum (2,570,804 parameters) and 3.1 GB of activations (1024 images per "
        "process); the test device has 1.0 GB."
    )
    assert not (tmp_path / "run").exists()


def test_what_trains_is_not_refused(monkeypatch):
    """The estimate is a lower bound: every table model at batch 128 in fp32 passes it on a 16 GB device
    (ImageNet's at 224; and every run of the suite passes it on its host)."""
    from crelu_repro.models import MODEL_NAMES, load_variant, trace

    monkeypatch.setattr(shapes, "capacity", lambda kind, rank, world: (16 * 10**9, "a 16 GB device"))
    for model in MODEL_NAMES:
        variant = load_variant(model)
        traced = trace(variant, 1000, 224) if variant.family == "allcnnb" else trace(variant, 100, 32)
        shapes.check_fits(
            traced.params, traced.activations, per_process_batch=128, bf16=False, momentum=True, kind="cuda"
        )
