"""The discussion-section analyses: pairing filters, invariance scores, CReLU reconstruction, and the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchvision.transforms.v2 import functional as TF

from crelu_repro.evidence.analysis import (
    NotInvertible,
    Transform,
    apply_transform,
    conv_lstsq,
    gaussian_estimate,
    gaussian_mu,
    invariance_scores,
    invert_block,
    pairing_mu,
    partner_cosines,
    reconstruct,
)
from crelu_repro.evidence.analysis.cli import main
from crelu_repro.models import build_model
from crelu_repro.models.builder import Conv, ConvBlock
from tests.helpers import renamed_run


def dense(conv: torch.nn.Conv2d, in_shape: tuple[int, int, int]) -> torch.Tensor:
    """The conv (weights only) as a matrix (out_dim, in_dim), by applying it to every basis image."""
    d = in_shape[0] * in_shape[1] * in_shape[2]
    basis = torch.eye(d, dtype=torch.float64).view(d, *in_shape)
    w = conv.weight.detach().double()
    return torch.nn.functional.conv2d(basis, w, None, conv.stride, conv.padding).view(d, -1).T


def randomize_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Eval mode with BN maps far from identity, so undoing them is really tested."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen))
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.eval()


# ---- pairing -------------------------------------------------------------------------------------------


def test_a_bank_of_opposite_pairs_has_mu_minus_one():
    w = torch.randn(8, 3, 3, 3)
    mu = pairing_mu(torch.cat([w, -2.5 * w]))  # lengths differ: filters are normalized first
    assert mu.shape == (16,)
    assert torch.allclose(mu, torch.full((16,), -1.0), atol=1e-6)


def test_gaussian_mu_is_negative_near_the_estimate_and_rises_toward_zero_with_dim():
    n, means = 128, []
    for d in (64, 256, 1024, 4096):
        m = float(gaussian_mu((n, d), draws=2).mean())
        # The minimum of n - 1 cosines ~ N(0, 1/d) is about -sqrt(2 ln n / d); at n = 128 the exact
        # expectation is ~0.83 of that (the extreme-value correction).
        assert 0.7 < m / gaussian_estimate(n, d) < 1.0, (d, m)
        means.append(m)
    assert all(m < 0 for m in means)
    assert means == sorted(means)  # toward 0 as d grows


def test_nu_tells_opposite_pairs_from_crowding():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(8, 27, generator=gen)
    mu, nu = partner_cosines(torch.cat([w, -w]))  # opposite pairs of random directions
    assert mu.max() < -0.999 and nu.mean() < 0.7
    crowd = torch.randn(16, 2, generator=gen) @ torch.randn(2, 27, generator=gen)  # 16 filters in a plane
    mu, nu = partner_cosines(crowd)
    assert mu.mean() < -0.9 and nu.mean() > 0.9  # low mu alone would have looked like pairing


def test_a_dead_filter_is_nan_and_nobodys_partner():
    w = torch.randn(5, 4)
    w[2] = 0.0
    w[4] = -w[0]
    mu = pairing_mu(w)
    assert mu[2].isnan() and not mu[[0, 1, 3, 4]].isnan().any()
    assert mu[0] == pytest.approx(-1.0, abs=1e-6) and mu[1] > -1.0 + 1e-3


# ---- reconstruction ------------------------------------------------------------------------------------


@pytest.mark.parametrize("batchnorm", [True, False])
def test_full_rank_crelu_layer_reconstructs_its_input(batchnorm):
    torch.manual_seed(0)
    block = randomize_bn(ConvBlock(3, 32, Conv(32, 3, 1, 1), "crelu", batchnorm, "relu"))  # 32 filters > 27
    if not batchnorm:
        torch.nn.init.normal_(block.conv.bias)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        h = block(x)  # (2, 64, 8, 8)
    rec, info = invert_block(block, h, x.shape)
    assert (rec - x).abs().max() < 1e-4
    assert info.rel_residual < 1e-6


def test_fewer_filters_give_the_projection_onto_the_row_space():
    torch.manual_seed(1)
    block = randomize_bn(ConvBlock(3, 2, Conv(2, 3, 1, 1), "crelu", True, "relu"))  # rank < input dim
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        h = block(x)
    rec, _ = invert_block(block, h, x.shape)
    a = dense(block.conv, (3, 6, 6))  # (72, 108)
    proj = (torch.linalg.pinv(a) @ a @ x.double().flatten(1).T).T.view_as(x)
    assert (rec.double() - proj).abs().max() < 1e-4
    assert (rec - x).abs().max() > 0.1  # information was lost: not the input itself
    assert (block.conv(rec) - block.conv(x)).abs().max() < 1e-4  # same linear responses


def test_masked_solve_is_the_pseudo_inverse_of_the_masked_operator():
    torch.manual_seed(4)
    conv = torch.nn.Conv2d(4, 3, 3, padding=1, bias=False)
    x = torch.randn(1, 4, 5, 5)
    z = conv(x).detach()  # (1, 3, 5, 5)
    mask = torch.rand(z.shape) < 0.4  # what max-pooling switches would leave us
    rec, _ = conv_lstsq(conv, z, x.shape, mask=mask, tol=1e-10)
    a = dense(conv, (4, 5, 5))[mask.flatten()]  # only the known responses' rows
    exact = torch.linalg.pinv(a) @ z.double().flatten()[mask.flatten()]
    assert (rec.double().flatten() - exact).abs().max() < 1e-5
    assert (conv(rec) - z)[mask].abs().max() < 1e-4  # fits what is known ...
    assert (conv(rec) - z)[~mask].abs().max() > 0.1  # ... and only that


def test_strided_conv_solution_is_the_pseudo_inverse():
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(3, 16, 11, stride=4, padding=2, bias=False)  # All-CNN-B conv1 geometry
    x = torch.randn(1, 3, 19, 19)
    z = conv(x).detach()  # (1, 16, 4, 4)
    rec, _ = conv_lstsq(conv, z, x.shape, max_iter=2000, tol=1e-12)
    exact = torch.linalg.pinv(dense(conv, (3, 19, 19))) @ z.double().flatten()
    assert (rec.double().flatten() - exact).abs().max() < 1e-4


def test_model_reconstruction_exact_at_conv1_and_marked_approximate_through_pooling():
    torch.manual_seed(3)
    model = randomize_bn(build_model("crelu_half", 10))  # conv1: 48 filters over 27 dims
    x = torch.randn(2, 3, 32, 32)
    rec1, notes1 = reconstruct(model, x, "conv1")
    assert (rec1 - x).abs().max() < 1e-4 and notes1["exact"]
    rec3, notes3 = reconstruct(model, x, "conv3")  # conv3 lies after pool1
    assert rec3.shape == x.shape and not notes3["exact"]
    assert any("switches" in s for s in notes3["steps"])
    allcnn = randomize_bn(build_model("allcnnb_crelu_all_half", 10))  # no pooling: strided convs only
    _, notes = reconstruct(allcnn, torch.randn(1, 3, 32, 32), "conv4")
    assert notes["exact"] and set(notes["iterations"]) == {"conv1", "conv2", "conv3", "conv4"}
    with pytest.raises(NotInvertible):
        reconstruct(build_model("relu", 10).eval(), x, "conv1")


# ---- invariance ----------------------------------------------------------------------------------------


def test_transformations_are_what_they_say():
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(
        apply_transform(x, Transform("rotation", (90,))), torch.rot90(x, 1, (2, 3)), atol=1e-5
    )
    bilinear = TF.InterpolationMode.BILINEAR
    ref = TF.affine(x, angle=-20.0, translate=[0, 0], scale=1.0, shear=[0.0, 0.0], interpolation=bilinear)
    assert torch.allclose(apply_transform(x, Transform("rotation", (20,))), ref, atol=1e-4)
    moved = apply_transform(x, Transform("translation", (2, -1)))  # right by 2, up by 1
    assert torch.equal(moved[..., :-1, 2:], x[..., 1:, :-2]) and moved[..., :2].abs().max() == 0
    assert torch.allclose(apply_transform(x, Transform("scale", (1.0,))), x, atol=1e-6)


def test_a_translation_invariant_unit_scores_higher_than_a_position_bound_one():
    gen = torch.Generator().manual_seed(0)
    images = torch.zeros(400, 3, 32, 32)
    images[:, :, 8:24, 8:24] = torch.randn(400, 3, 16, 16, generator=gen)  # content stays in frame

    def features(x: torch.Tensor) -> dict[str, torch.Tensor]:
        invariant = x[:, :1].amax(dim=(2, 3), keepdim=True).expand(-1, 1, 4, 4)  # global max: moves with x
        bound = x[:, :1, 14:18, 14:18]  # the pixels at fixed positions
        return {"layer": torch.cat([invariant, bound], dim=1)}  # (N, 2, 4, 4)

    shifts = tuple(Transform("translation", (d, 0)) for d in (-2, -1, 1, 2))
    out = invariance_scores(features, images, shifts, pool=400, min_events=5)["layer"]
    local = out["units_detail"]["translation"]["local"]
    score = out["units_detail"]["translation"]["score"]
    assert local[0] == 1.0  # fires on every shifted version of every image it fired on
    assert score[0] == pytest.approx(1 / out["global_rate"][0])
    assert score[0] > 10 * score[1]
    assert out["global_rate"][1] == pytest.approx(0.01, abs=0.003)


# ---- the CLI on a trained run --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(finished_run, tmp_path_factory):
    """A trained crelu_half run (a copy: its TensorBoard gets our events) and an untrained relu one."""
    base = tmp_path_factory.mktemp("analysis")
    crelu = base / "crelu_half"
    shutil.copytree(finished_run, crelu)
    return crelu, renamed_run(finished_run, base / "relu", "relu", 10)


def image_tags(run_dir) -> list[str]:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0})
    acc.Reload()
    return acc.Tags()["images"]


@pytest.mark.parametrize("figure", ["pairing", "invariance", "reconstruction"])
def test_each_figure_writes_png_json_and_tensorboard(runs, figure, tmp_path):
    crelu, relu = runs
    out = tmp_path / "figures"
    args = ["--out", str(out), "--images", "64", "--pool", "12", "--recon-images", "2"]
    args += ["--recon-layers", "conv1,conv2,conv3"]  # conv3 lies past pool1; conv4 adds only time
    assert main([figure, str(crelu), str(relu), *args]) == 0
    png = (out / f"{figure}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 150_000
    numbers = json.loads((out / f"{figure}.json").read_text())
    assert [r["model"] for r in numbers["runs"]] == ["crelu_half", "relu"]
    assert f"analysis/{figure}" in image_tags(crelu)
    first = numbers["runs"][0]["layers"]
    if figure == "pairing":
        assert list(first) == [f"conv{i}" for i in range(1, 9)]
        assert len(first["conv1"]["mu"]) == 48 and -1 <= first["conv1"]["mu_mean"] < 0
        assert first["conv1"]["gauss_mu_mean"] < 0
    elif figure == "invariance":
        assert set(first["conv1"]["scores"]) == {"translation", "rotation", "scale", "mean"}
        assert first["conv1"]["scores"]["mean"] > 0
        assert abs(first["conv1"]["global_rate_mean"] - 0.01) < 0.005
    else:
        assert first["conv1"]["rel_error_mean"] < 1e-3  # 48 filters over 27 dims: exact
        assert first["conv2"]["exact"] and not first["conv3"]["exact"]
        assert "skipped" in numbers["runs"][1]  # ReLU is not invertible
        assert "analysis/reconstruction" not in image_tags(relu)
