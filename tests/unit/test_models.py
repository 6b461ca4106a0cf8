import pytest
import torch

from crelu_repro.core.errors import ConfigError
from crelu_repro.evidence.paper import reported_models
from crelu_repro.models import MODEL_NAMES, build_model

# DESIGN.md's contract: every row of every paper table is a named model. The rows are the paper's own
# (paper/tables.yaml); a variant of yours is one more file, not a change here.
DESIGN_NAMES = {model for model, _, _ in reported_models()}


def _input_size(name: str) -> int:
    return 224 if name.startswith("allcnnb") else 32


def test_model_names_are_the_design_contract():
    assert DESIGN_NAMES and set(MODEL_NAMES) >= DESIGN_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("classes", [10, 100, 1000])
def test_forward_shape(name, classes):
    torch.manual_seed(0)
    model = build_model(name, classes).eval()
    size = _input_size(name)
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["relu", "double", "avr", "crelu", "crelu_half"])
def test_convpool_map_is_10x10_before_pool3(name):
    feats = build_model(name, 10).eval().features(torch.randn(1, 3, 32, 32))
    names = list(feats)
    before_pool3 = feats[names[names.index("pool3") - 1]]
    assert before_pool3.shape[-2:] == (10, 10)
    assert feats["pool1"].shape[-1] == 16 and feats["pool2"].shape[-1] == 8


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n.startswith("allcnnb")])
def test_allcnnb_map_is_6x6_before_global_pool(name):
    with torch.no_grad():
        feats = build_model(name, 1000).eval().features(torch.randn(1, 3, 224, 224))
    assert feats["conv12"].shape[1:] == (1000, 6, 6)


def test_crelu_layers_double_the_next_layers_input():
    model = build_model("crelu", 10)
    assert model.layers.conv2.conv.in_channels == 192  # conv1's 96 filters -> 192 maps
    assert model.layers.conv8.conv.in_channels == 384
    half = build_model("crelu_half", 10)
    filters = [getattr(half.layers, f"conv{i}").conv.out_channels for i in range(1, 8)]
    assert filters == [48, 48, 48, 96, 96, 96, 96]  # conv3 literally 48 (tables.yaml note)
    assert half.layers.conv8.conv.in_channels == 192


def test_vgg_crelu_keeps_filter_counts():
    model = build_model("vgg_crelu_conv1_3_5", 10)
    assert model.layers.conv1.conv.out_channels == 64 and model.layers.conv2.conv.in_channels == 128
    assert model.layers.conv5.conv.out_channels == 256 and model.layers.conv6.conv.in_channels == 512
    assert model.layers.conv7.conv.in_channels == 256  # conv6 is ReLU


def test_batchnorm_switch():
    with_bn = build_model("relu", 10)
    without = build_model("relu", 10, batchnorm=False)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in with_bn.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in without.modules())
    assert without.layers.conv1.conv.bias is not None and with_bn.layers.conv1.conv.bias is None


def test_unknown_model_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown model 'resnet'; valid: ") as err:
        build_model("resnet", 10)
    assert all(name in str(err.value) for name in DESIGN_NAMES)


def test_half_width_on_odd_class_count_is_a_clear_error():
    with pytest.raises(
        ConfigError,
        match="width 0.5 at conv12 gives 5.5 filters; a width factor must be > 0 and give a whole",
    ):
        build_model("allcnnb_crelu_all_half", 11)
