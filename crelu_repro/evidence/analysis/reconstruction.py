"""Reconstruct the input from a CReLU layer's output, the paper's algorithm (for a model without max-pooling):

1. h = the CReLU features of the layer; 2. revert CReLU to the linear responses z = h[:C] - h[C:] (and undo
   BN, an invertible per-channel affine map in eval mode, or the conv bias);
3.-4. x' = (W^T)^+ z: the minimum-norm least-squares solution of conv(x) = z, with the conv seen as a linear
   operator A. We solve it with CGLS (conjugate gradients on the normal equations A^T A x = A^T z, the
   adjoint A^T being the conv's input gradient) in float64 from x = 0: its iterates stay in the row space
   of A, so at convergence x' = A^+ z exactly, for any stride and padding, without forming A.
Deeper layers repeat this down to the image: x' of conv k is the (estimated) CReLU output of conv k-1.

Max-pooling is not invertible. Where a model has it (ConvPool-CNN-C: pool1 after conv2) we go through it
with the forward pass's switches (as Zeiler & Fergus' unpooling does): each pooled value goes back to the
position its window's maximum came from, which tells us those CReLU outputs and nothing about the others.
The block below then fits only the linear responses those outputs determine (a masked least-squares
problem, min ||M (A x - z)||, same CGLS) instead of treating the unknown outputs as zeros. This is our
extension, not the paper's algorithm; results through it are marked "approximate" in the JSON and figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn
from torch.nn.grad import conv2d_input

from ...models.activations import CReLU
from ...models.builder import ConvBlock, SpecNet

METHOD = (
    "CReLU reconstruction: z = pos - neg phase, undo BN,\nx' = (W^T)^+ z, layer by layer down to the image.\n"
    "~ = through max-pooling (not the paper's setting):\nleast squares on the responses its switches give"
)


class NotInvertible(ValueError):
    """A layer on the way down discards information the algorithm needs (ReLU, AVR, ELU ...)."""


@dataclass
class SolveInfo:
    iterations: int
    rel_residual: float  # max over the batch of ||A^T (A x - z)|| / ||A^T z||


def revert_activation(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Linear responses from an activation's output. CReLU: (N, 2C, ...) -> (N, C, ...)."""
    if isinstance(act, nn.Identity):
        return h
    if isinstance(act, CReLU):
        c = h.shape[1] // 2
        if isinstance(act.base, nn.ReLU):
            return h[:, :c] - h[:, c:]  # relu(z) - relu(-z) = z
        if isinstance(act.base, nn.LeakyReLU):
            return (h[:, :c] - h[:, c:]) / (1 + act.base.negative_slope)  # f(z) - f(-z) = (1 + slope) z
    raise NotInvertible(f"{act} cannot be reverted to linear responses (only CReLU over ReLU / LeakyReLU)")


def undo_bn(bn: nn.BatchNorm2d, a: torch.Tensor) -> torch.Tensor:
    """The conv output y from eval-mode BN's output a = gamma (y - mean) / sqrt(var + eps) + beta."""
    shape = (1, -1, 1, 1)
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    beta = bn.bias if bn.affine else torch.zeros_like(bn.running_var)
    if (gamma.abs() < 1e-12).any():
        raise NotInvertible(f"{bn}: a zero scale makes that channel's BN map non-invertible")
    std = (bn.running_var + bn.eps).sqrt()
    return (a - beta.view(shape)) * (std / gamma).view(shape) + bn.running_mean.view(shape)


def conv_lstsq(
    conv: nn.Conv2d,
    z: torch.Tensor,  # (N, Cout, h, w): the linear responses conv(x) without bias
    in_shape: torch.Size | tuple[int, ...],  # (N, Cin, H, W)
    max_iter: int = 300,
    tol: float = 1e-7,
    mask: torch.Tensor | None = None,  # (N, Cout, h, w) bool: fit only these responses
) -> tuple[torch.Tensor, SolveInfo]:
    """x' = A^+ z for the conv operator A (weights only), by CGLS in float64: (x' (N, Cin, H, W), info)."""
    if conv.padding_mode != "zeros":
        raise NotInvertible(f"{conv}: only zero padding is handled")
    w = conv.weight.detach().double()
    geom = {"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation, "groups": conv.groups}

    m = None if mask is None else mask.double()  # a mask M makes the operator M A, its adjoint A^T M

    def op(x: torch.Tensor) -> torch.Tensor:  # A x: (N, Cin, H, W) -> (N, Cout, h, w)
        y = F.conv2d(x, w, **geom)
        return y if m is None else y * m

    def adj(r: torch.Tensor) -> torch.Tensor:  # A^T r: (N, Cout, h, w) -> (N, Cin, H, W)
        return conv2d_input(list(in_shape), w, r if m is None else r * m, **geom)

    def sq(t: torch.Tensor) -> torch.Tensor:  # per-sample squared norm, (N, 1, 1, 1)
        return t.pow(2).sum(dim=(1, 2, 3), keepdim=True)

    b = z.detach().double() if m is None else z.detach().double() * m
    x = torch.zeros(in_shape, dtype=torch.float64)
    r = b.clone()  # residual b - A x
    s = adj(r)  # normal-equation residual A^T (b - A x)
    p, gamma = s.clone(), sq(s)
    gamma0 = gamma.clamp_min(1e-300)  # ||A^T b||^2 per sample: the tolerance is relative to it
    it = 0
    while it < max_iter and bool((gamma > tol**2 * gamma0).any()):
        q = op(p)
        active = gamma > tol**2 * gamma0  # converged samples stay where they are
        alpha = torch.where(active, gamma / sq(q).clamp_min(1e-300), 0.0)
        x, r = x + alpha * p, r - alpha * q
        s = adj(r)
        gamma_new = sq(s)
        p, gamma = s + (gamma_new / gamma.clamp_min(1e-300)) * p, gamma_new
        it += 1
    rel = float((gamma / gamma0).sqrt().max())
    return x.to(z.dtype), SolveInfo(it, rel)


def invert_block(
    block: ConvBlock,
    h: torch.Tensor,
    in_shape: torch.Size | tuple[int, ...],
    known: torch.Tensor | None = None,
    **solver,
) -> tuple[torch.Tensor, SolveInfo]:
    """The block's input from its output h: revert the activation, undo BN (or the bias), solve the conv.

    `known` (bool, shaped like h) marks the outputs we actually have (after max-unpooling); the solve then
    fits only the linear responses they determine: a CReLU response is known where either phase is, the
    other phase being taken as 0 (it is 0 wherever the known phase is positive).
    """
    if known is not None:
        h = h * known
    a = revert_activation(block.act, h)  # (N, C, h, w)
    bn = getattr(block, "bn", None)
    y = undo_bn(bn, a) if bn is not None else a
    if block.conv.bias is not None:
        y = y - block.conv.bias.view(1, -1, 1, 1)
    mask = None
    if known is not None:
        c = a.shape[1]
        mask = known[:, :c] | known[:, c:] if isinstance(block.act, CReLU) else known  # (N, C, h, w)
    return conv_lstsq(block.conv, y, in_shape, mask=mask, **solver)


def unpool(
    v: torch.Tensor, indices: torch.Tensor, in_shape: torch.Size | tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-unpooling with switches: (N, C, h, w) pooled values -> the (N, C, H, W) map with each value at
    its window's argmax (averaged where windows share one), and the bool mask of those positions."""
    n, c, hh, ww = in_shape
    out = torch.zeros(n, c, hh * ww, dtype=v.dtype)
    hits = torch.zeros_like(out)
    out.scatter_add_(2, indices.flatten(2), v.flatten(2))
    hits.scatter_add_(2, indices.flatten(2), torch.ones_like(v).flatten(2))
    return (out / hits.clamp_min(1)).view(n, c, hh, ww), (hits > 0).view(n, c, hh, ww)


@torch.no_grad()
def reconstruct(model: SpecNet, x: torch.Tensor, layer: str, **solver) -> tuple[torch.Tensor, dict]:
    """The input reconstructed from `layer`'s features of x (N, 3, H, W) (normalized space), and notes:
    {"exact": no max-pooling was crossed, "steps": [...], "iterations": {...}, "rel_residual": {...}}."""
    trail: list[tuple[str, nn.Module, torch.Size, torch.Tensor | None]] = []
    h = x
    for name, m in model.layers.named_children():  # forward, keeping each layer's input shape and switches
        if isinstance(m, ConvBlock):
            revert_activation(m.act, torch.zeros(1, 2, 1, 1))  # not invertible: fail before any work
            trail.append((name, m, h.shape, None))
            h = m(h)
        elif isinstance(m, nn.MaxPool2d):
            trail.append((name, m, h.shape, None))
            h, idx = F.max_pool2d(h, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True)
            trail[-1] = (name, m, trail[-1][2], idx)
        elif isinstance(m, nn.Dropout):
            continue  # identity in eval mode
        else:
            raise NotInvertible(f"{name} ({type(m).__name__}) lies before {layer}; it has no inverse here")
        if name == layer:
            break
    else:
        raise ValueError(f"{model.name} has no conv layer {layer!r}")
    notes: dict = {"exact": True, "steps": [], "iterations": {}, "rel_residual": {}}
    known = None  # after unpooling: which of the block's outputs we have
    for name, m, in_shape, idx in reversed(trail):  # and back down to the image
        if idx is not None:
            if known is not None:
                raise NotInvertible(f"{name}: two max-pools in a row are not handled")
            h, known = unpool(h, idx, in_shape)
            notes["exact"] = False
            notes["steps"].append(f"{name}: switches -> the pooled values at their argmax (approximate)")
        else:
            h, info = invert_block(m, h, in_shape, known, **solver)
            how = "on the responses known from the switches" if known is not None else ""
            notes["steps"].append(f"{name}: revert activation, undo BN, (W^T)^+ by CGLS {how}".strip())
            notes["iterations"][name], notes["rel_residual"][name] = info.iterations, info.rel_residual
            known = None
    return h, notes


def to_pixels(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalized (N, 3, H, W) -> uint8 pixels (N, H, W, 3) for display, clipped to [0, 255]."""
    px = x.double() * std.double().view(1, 3, 1, 1) + mean.double().view(1, 3, 1, 1)
    return px.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def reconstruction_figure(panels: list[dict], mean: list[torch.Tensor], std: list[torch.Tensor]) -> Figure:
    """Image grids, one block of rows per run: input, then the reconstruction from each layer.

    `panels[i]` = {"label", "input": (n, 3, H, W), "layers": {name: (recon (n, 3, H, W), notes)}}.
    """
    cols = 1 + max(len(p["layers"]) for p in panels)
    rows = sum(len(p["input"]) for p in panels)
    fig = Figure(figsize=(1.0 * cols, 1.0 * rows + 0.9), dpi=72, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    r0 = 0
    for p, m, s in zip(panels, mean, std, strict=True):
        images = [("input", p["input"], "")] + [
            (name, rec, "" if notes["exact"] else " ~") for name, (rec, notes) in p["layers"].items()
        ]
        for c, (name, batch, mark) in enumerate(images):
            err = (batch - p["input"]).flatten(1).norm(dim=1) / p["input"].flatten(1).norm(dim=1)  # (n,)
            for i, img in enumerate(to_pixels(batch, m, s)):
                ax = axes[r0 + i, c]
                ax.imshow(img.numpy(), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    sub = "" if name == "input" else f"\nerr {err.mean():.2f}"
                    ax.set_title(f"{name}{mark}{sub}", fontsize=7)
                if c == 0 and i == 0:
                    ax.set_ylabel(p["label"], fontsize=6)
        for c in range(len(images), cols):
            for i in range(len(p["input"])):
                axes[r0 + i, c].axis("off")
        r0 += len(p["input"])
    fig.suptitle(
        f"{METHOD}\nerr = ||x' - x|| / ||x|| (normalized inputs, mean over the images)",
        fontsize=7,
    )
    return fig
