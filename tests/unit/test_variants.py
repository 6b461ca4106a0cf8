"""Variants are described by their Hydra config: the YAML files are the registry, any description trains,
and a description that no file names gets a label that says what it is."""

from __future__ import annotations

import pytest
import yaml

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.paths import CONFIG_DIR
from crelu_repro.models import (
    FAMILIES,
    MODEL_NAMES,
    Variant,
    baseline,
    build_variant,
    label,
    load_variant,
    variant_of,
)
from crelu_repro.models.activations import ACTIVATIONS, BASES
from crelu_repro.run.checks import validate


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_file_describes_the_variant_it_is_named_after(name):
    text = yaml.safe_load((CONFIG_DIR / "model" / f"{name}.yaml").read_text())
    assert text["name"] == name and text["family"] in ("convpool", "vgg", "allcnnb")
    assert label(load_variant(name)) == name


def test_baselines_come_from_the_files():
    assert [baseline(f) for f in ("convpool", "vgg", "allcnnb")] == ["relu", "vgg_relu", "allcnnb_relu"]


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["model=relu", "model.acts={conv1-4: crelu}"], "relu+crelu@conv1-4"),
        (["model=relu", "model.acts={conv1-7: crelu}"], "crelu"),  # a named description keeps its name
        (["model=crelu", "model.acts={conv5-7: relu}"], "relu+crelu@conv1-4"),  # merged: later keys win
        (["model=relu", "model.acts={conv1: crelu, conv3: crelu}"], "relu+crelu@conv1,3"),
        (["model=vgg_relu", "model.acts={conv1: crelu, conv3: crelu}"], "vgg_crelu_conv1_3"),
        (["model=crelu", "model.widths={conv1-7: 0.5}"], "relu+crelu_x0.5@conv1-7"),
        (["model=crelu", "model.batchnorm=false"], "crelu+nobn"),
        (["model=crelu", "model.crelu_base=elu"], "crelu+base_elu"),
        (["model=relu", "model.crelu_base=elu"], "relu"),  # no CReLU layer: the base changes nothing
    ],
)
def test_a_description_on_the_command_line_gets_a_label(composer, overrides, expected):
    cfg = composer(*overrides, "dataset=cifar10")
    validate(cfg)
    assert label(variant_of(cfg.model)) == expected


def test_a_new_variant_needs_no_python(composer):
    cfg = composer("model=relu", "model.acts={conv1-4: crelu}", "dataset=cifar100")
    net = build_variant(cfg.model, 100)
    assert net.layers.conv2.conv.in_channels == 192 and net.layers.conv5.conv.in_channels == 384
    assert net.layers.conv6.conv.in_channels == 192  # conv5 is ReLU again: its 192 maps stay 192
    run_dir = composer("model=relu", "model.acts={conv1-4: crelu}", return_hydra_config=True).hydra.run.dir
    assert run_dir.endswith("_relu+crelu@conv1-4_cifar10")


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.acts={conv9: crelu}", r"unknown layer 'conv9'.*this family has conv1-conv8"),
        ("model.acts={fc3: crelu}", r"unknown layer 'fc3'.*conv1-conv8"),
        ("model.acts={layer2: crelu}", r"unknown layer 'layer2'"),
        (
            "model.acts={conv1: tanh}",
            r"unknown activation 'tanh'; valid: " + ", ".join(sorted(ACTIVATIONS)),
        ),
        ("model.widths={conv1: 0.3}", r"width 0.3 at conv1 gives 28.8 filters; a width factor must be > 0"),
        ("model.widths={conv2: -1}", r"width -1.0 at conv2 gives -96 filters"),
        ("model.crelu_base=tanh", r"model.crelu_base='tanh': must be one of " + ", ".join(BASES)),
        ("model.family=resnet", r"model.family='resnet': must be one of " + ", ".join(FAMILIES)),
    ],
)
def test_an_invalid_description_fails_at_composition_naming_the_valid_choices(composer, override, message):
    with pytest.raises(ConfigError, match=message):
        validate(composer("model=relu", override))


def test_vgg_layers_are_named_by_kind():
    with pytest.raises(ConfigError, match="conv1-conv13 and fc14-fc15"):
        label(Variant("vgg", acts={"conv14": "crelu"}))
    assert label(Variant("vgg", acts={"conv13": "avr", "fc14": "avr"})) == "vgg_relu+avr@conv13,fc14"
