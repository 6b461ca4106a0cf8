import pytest
import torch
import torch.nn.functional as F

from crelu_repro.core.errors import ConfigError
from crelu_repro.models.activations import ACTIVATIONS, AVR, BASES, CReLU, get_activation, make_activation


def test_crelu_matches_formula_positive_phase_first_4d():
    x = torch.randn(3, 5, 4, 4)
    y = CReLU()(x)
    assert y.shape == (3, 10, 4, 4)
    torch.testing.assert_close(y[:, :5], x.clamp(min=0), rtol=0, atol=0)
    torch.testing.assert_close(y[:, 5:], (-x).clamp(min=0), rtol=0, atol=0)


def test_crelu_on_2d_input_concatenates_channels():
    x = torch.tensor([[1.5, -2.0, 0.0]])
    assert CReLU()(x).tolist() == [[1.5, 0.0, 0.0, 0.0, 2.0, 0.0]]


def test_crelu_gradient_against_formula_and_zero_at_zero():
    x = torch.tensor([[-1.0, 0.0, 2.0]], requires_grad=True)
    upstream = torch.tensor([[10.0, 20.0, 30.0, 1.0, 2.0, 3.0]])
    CReLU()(x).backward(upstream)
    # d/dx relu(x) = [x>0]; d/dx relu(-x) = -[x<0]; both exactly 0 at x = 0.
    assert x.grad.tolist() == [[-1.0, 0.0, 30.0]]


def test_crelu_output_is_exactly_zero_where_phase_is_off():
    x = torch.randn(64, 8)
    y = CReLU()(x)
    assert ((y[:, :8] == 0) == (x <= 0)).all() and ((y[:, 8:] == 0) == (x >= 0)).all()


def test_avr_values_and_gradient():
    x = torch.tensor([-3.0, 0.0, 2.0], requires_grad=True)
    y = AVR()(x)
    assert y.tolist() == [3.0, 0.0, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize("base, fn", [("leaky_relu", lambda t: F.leaky_relu(t, 0.01)), ("elu", F.elu)])
def test_crelu_over_other_bases(base, fn):
    x = torch.randn(2, 3, 5, 5)
    y = make_activation("crelu", crelu_base=base)(x)
    torch.testing.assert_close(y, torch.cat([fn(x), fn(-x)], 1))


def test_registry_multipliers():
    assert get_activation("crelu").multiplier == 2
    for name, entry in ACTIVATIONS.items():  # each entry's multiplier is what its module does to the maps
        for base in BASES if entry.takes_base else ["relu"]:
            y = make_activation(name, crelu_base=base)(torch.randn(2, 3, 4, 4))
            assert y.shape == (2, 3 * entry.multiplier, 4, 4), (name, base)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ConfigError, match="valid: .*crelu.*relu"):
        get_activation("swish")
    with pytest.raises(ConfigError, match="valid: " + ", ".join(sorted(BASES))):
        make_activation("crelu", crelu_base="tanh")
