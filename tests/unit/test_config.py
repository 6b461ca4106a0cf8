"""Hydra composition: every model composes and validates with the datasets of its family (and is refused,
naming the layer, where its shapes cannot take the images); bad input fails with one message."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.paths import CONFIG_DIR, dataset_classes, options
from crelu_repro.data import DATASETS as REGISTERED
from crelu_repro.models import MODEL_NAMES
from crelu_repro.models.activations import BASES
from crelu_repro.run.checks import validate
from tests.helpers import REPO

DATASETS = options("dataset")  # every configs/dataset/<name>.yaml: a new dataset is composed here too
PAPER_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}


CIFAR = ("cifar10", "cifar100")
FAMILY_DATASETS = {"convpool": CIFAR, "vgg": CIFAR, "allcnnb": ("imagenet",)}


def test_every_dataset_file_has_its_plug_in_and_every_plug_in_its_file():
    assert DATASETS and set(DATASETS) == set(REGISTERED)


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_model_composes_with_the_datasets_of_its_family(composer, dataset):
    for model in MODEL_NAMES:
        cfg = composer(f"model={model}", f"dataset={dataset}", "trainer.device=cpu")
        assert cfg.model.name == model and cfg.dataset.name == dataset
        assert cfg.dataset.num_classes == PAPER_CLASSES.get(dataset, dataset_classes(dataset))
        if dataset in FAMILY_DATASETS[cfg.model.family]:
            validate(cfg)
        elif cfg.model.family != "convpool":  # (its global pool takes 224 crops: only memory limits it)
            with pytest.raises(ConfigError, match=f"model '{model}' .* cannot take .* images: (conv9|fc14) "):
                validate(cfg)


def test_documented_overrides_exist_and_are_typed(composer):
    cfg = composer(
        "seed=3",
        "trainer.epochs=7",
        "trainer.batch_size=256",
        "trainer.device=cpu",
        "trainer.compile=true",
        "trainer.deterministic=true",
        "dataset.root=/data",
        "dataset.download=false",
        "dataset.limit_train=100",
        "dataset.limit_test=50",
        "eval=kfold",
        "eval.fold=4",
        "sched=cosine",
    )
    assert (cfg.seed, cfg.trainer.epochs, cfg.trainer.batch_size) == (3, 7, 256)
    assert cfg.trainer.compile is True and cfg.dataset.download is False and cfg.dataset.root == "/data"
    assert OmegaConf.to_container(cfg.eval, enum_to_str=True)["protocol"] == "kfold"


def test_data_root_defaults_to_crelu_data(composer, monkeypatch):
    monkeypatch.setenv("CRELU_DATA", "/somewhere")
    assert composer().dataset.root == "/somewhere"


def test_every_hyperparameter_line_says_paper_or_ours():
    leaf = re.compile(r"^\s*(\w+): *[^\s#]")  # "key: value", not a section header or list item
    for path in (CONFIG_DIR).rglob("*.yaml"):
        if "hydra" in path.relative_to(CONFIG_DIR).parts or path.name == "train.yaml":
            continue  # launcher / Hydra plumbing, not hyperparameters (train.yaml is checked by hand below)
        top = sub = ""  # experiment files hold hydra: (sweep plumbing) and table: (how the table looks)
        for line in path.read_text().splitlines():
            if line and not line[0].isspace():
                top = line.split(":")[0]
            if re.match(r"^  \w", line):
                sub = line.strip().split(":")[0]
            m = leaf.match(line)
            plumbing = top == "hydra" or (top == "table" and sub != "quick")  # a table's QUICK values count
            if m and m.group(1) not in ("name", "note", "defaults") and not plumbing:
                assert "paper" in line or "ours" in line, (
                    f"{path.relative_to(REPO)}: {line!r} lacks provenance"
                )
    assert "ours" in next(
        ln for ln in (CONFIG_DIR / "train.yaml").read_text().splitlines() if ln.startswith("seed")
    )


@pytest.mark.parametrize(
    "overrides, valid",
    [
        (["trainer.batch_size=0"], "trainer.batch_size=0: must be an integer >= 1"),
        (["trainer.batch_size=-5"], "trainer.batch_size=-5: must be an integer >= 1"),
        (["eval.fold=10"], r"eval.fold=10: must be in \[0, eval.folds=10\)"),
        (["model.crelu_base=tanh"], "model.crelu_base='tanh': must be one of " + ", ".join(BASES)),
    ],
)
def test_invalid_values_raise_config_error(composer, overrides, valid):
    with pytest.raises(ConfigError, match=valid):
        validate(composer(*overrides))


def test_batch_not_divisible_by_world_size(composer):
    with pytest.raises(ConfigError, match="not divisible by the 3 processes"):
        validate(composer("trainer.batch_size=128"), world_size=3)
