"""Hydra composition: every model composes and validates with the datasets of its family (and is refused,
naming the layer, where its shapes cannot take the images); bad input fails with one message."""

from __future__ import annotations

import re
import shlex

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.paths import CONFIG_DIR, dataset_classes, options
from crelu_repro.data import DATASETS as REGISTERED
from crelu_repro.models import MODEL_NAMES
from crelu_repro.models.activations import BASES
from crelu_repro.run.checks import validate
from crelu_repro.run.compose import command_line_overrides
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


def test_a_value_split_by_the_shell_is_one_line_that_says_how_to_quote():
    """`python train.py dataset.root=my data` gave Hydra's four lines ("missing EQUAL at '<EOF>'"), exit 1."""
    with pytest.raises(ConfigError) as err:
        command_line_overrides(["trainer.device=cpu", "dataset.root=my", "data"])
    assert str(err.value) == (
        "cannot read the override 'data' (no `=`): did the shell split `dataset.root=my data` at its space? "
        """Quote the value for Hydra and the whole override for the shell: 'dataset.root="my data"'"""
    )


@pytest.mark.parametrize("value", ["a(b)", 'b"c', "b'c(", "[1,2", "x(\\", 'x\\"y', "a=b"])
def test_a_grammar_error_suggests_an_override_that_parses_to_the_value(value):
    """The quoted form offered, as the shell passes it on, is read by Hydra as the value typed."""
    with pytest.raises(ConfigError) as err:
        command_line_overrides([f"dataset.root={value}"])
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"cannot read the override {f'dataset.root={value}'!r}")
    (suggested,) = shlex.split(message.split("the whole override for the shell: ")[1].split(" (Hydra's")[0])
    assert OverridesParser.create().parse_overrides([suggested])[0].value() == value


def test_only_overrides_are_read_as_overrides():
    """The values of Hydra's own flags (`--cfg job`) are no overrides; valid ones pass unchanged."""
    argv = ["-m", "--cfg", "job", "model=relu,crelu", "dataset.root=my data", "hydra/launcher=slurm", "+a=1"]
    assert command_line_overrides(argv) == argv[3:]
