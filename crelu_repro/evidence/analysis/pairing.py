"""Pairing filters (the paper's "quantitative study"): how close each filter is to the negative of another.

For unit-length filters phi_i of one conv layer, mu_i = min over j != i of <phi_i, phi_j>. A ReLU network that
needs both phases of a feature learns phi and roughly -phi, so mu_i is near -1; random Gaussian filters of
the same shape give the baseline, about -sqrt(2 ln n / d) for n filters of dimension d. For a CReLU layer
the filters are the conv weights before the concatenation (CReLU itself supplies the negative phase).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure

from .runs import Run, conv_layers

BINS = np.linspace(-1.0, 0.5, 31)  # mu lives in [-1, 1]; the mass is below 0.5 for every layer we saw
CLIPPED = (-1.0, 0.5 - 1e-9)  # values outside BINS land in the edge bins instead of vanishing


def partner_cosines(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, nu) for every filter of a conv weight (n, c, k, k) (or any (n, ...)), each of shape (n,).

    mu_i = min_{j != i} cos(phi_i, phi_j) (the pairing measure); nu_i = max_{j != i} cos(phi_i, phi_j), a
    control: filters crowding into a low-dimensional subspace push both mu down and nu up, while opposite
    pairs push only mu. A filter that is all zeros has no direction: NaN, and nobody's partner.
    """
    f = weight.detach().flatten(1).double()  # (n, d)
    norms = f.norm(dim=1, keepdim=True)  # (n, 1)
    if f.shape[0] < 2:
        raise ValueError(f"pairing needs at least 2 filters, got weight of shape {tuple(weight.shape)}")
    alive = norms.squeeze(1) > 0
    unit = f / norms.clamp_min(1e-300)
    sim = unit @ unit.T  # (n, n) cosines
    eye = torch.eye(len(f), dtype=torch.bool)
    skip = eye | ~alive[None, :]  # j != i, and a dead filter is nobody's partner
    mu = sim.masked_fill(skip, math.inf).min(dim=1).values  # (n,)
    nu = sim.masked_fill(skip, -math.inf).max(dim=1).values
    mu[~alive], nu[~alive] = math.nan, math.nan
    return mu.float(), nu.float()


def pairing_mu(weight: torch.Tensor) -> torch.Tensor:
    """mu_i = min_{j != i} cos(phi_i, phi_j) for every filter of weight (n, ...): shape (n,)."""
    return partner_cosines(weight)[0]


def gaussian_cosines(
    shape: torch.Size | tuple[int, ...], draws: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, nu) of `draws` independent random Gaussian banks of `shape`, each concatenated: (draws * n,)."""
    gen = torch.Generator().manual_seed(seed)
    banks = [partner_cosines(torch.randn(tuple(shape), generator=gen)) for _ in range(draws)]
    return torch.cat([mu for mu, _ in banks]), torch.cat([nu for _, nu in banks])


def gaussian_mu(shape: torch.Size | tuple[int, ...], draws: int = 4, seed: int = 0) -> torch.Tensor:
    """mu of `draws` independent random Gaussian banks of `shape`, concatenated: (draws * n,)."""
    return gaussian_cosines(shape, draws, seed)[0]


def gaussian_estimate(n: int, d: int) -> float:
    """The large-d approximation of a Gaussian bank's mu: the minimum of n - 1 cosines ~ N(0, 1/d)."""
    return -math.sqrt(2 * math.log(n) / d)


def layer_pairing(run: Run, draws: int = 4, seed: int = 0) -> dict[str, dict]:
    """Per conv layer: mu of the trained filters beside the Gaussian baseline, with histograms on BINS."""
    out: dict[str, dict] = {}
    for name in conv_layers(run.model):
        w = getattr(run.model.layers, name).conv.weight  # (n, c, k, k)
        n, d = w.shape[0], w[0].numel()
        (mu, nu), (ref, ref_nu) = partner_cosines(w), gaussian_cosines(w.shape, draws, seed)
        mu_ok, nu_ok = mu[~mu.isnan()], nu[~nu.isnan()]
        out[name] = {
            "filters": n,
            "dim": d,
            "dead_filters": int(mu.isnan().sum()),
            "mu_mean": float(mu_ok.mean()),
            "mu_median": float(mu_ok.median()),
            "frac_mu_below_-0.9": float((mu_ok < -0.9).float().mean()),
            "gauss_mu_mean": float(ref.mean()),
            "gauss_estimate": gaussian_estimate(n, d),
            "nu_mean": float(nu_ok.mean()),  # control: the most similar other filter
            "gauss_nu_mean": float(ref_nu.mean()),
            "hist": _hist(mu_ok),
            "gauss_hist": _hist(ref),
            "mu": [round(float(v), 4) for v in mu],
            "gauss_mu": [round(float(v), 4) for v in ref],  # the baseline's samples: intervals need them
        }
    return out


def _hist(values: torch.Tensor) -> list[float]:
    """Density (each histogram sums to 1) on BINS, so banks of different sizes compare."""
    counts, _ = np.histogram(values.clamp(*CLIPPED).numpy(), bins=BINS)
    return (counts / max(1, counts.sum())).round(5).tolist()


def pairing_figure(runs: list[Run], draws: int = 4, seed: int = 0) -> tuple[Figure, dict]:
    """One row per run, one panel per conv layer: trained mu (blue) over Gaussian mu (red)."""
    layers = [layer_pairing(run, draws, seed) for run in runs]
    cols = max(len(lay) for lay in layers)
    fig = Figure(figsize=(1.75 * cols, 1.75 * len(runs) + 0.7), dpi=72, layout="constrained")
    axes = fig.subplots(len(runs), cols, squeeze=False, sharex=True)
    for r, (run, lay) in enumerate(zip(runs, layers, strict=True)):
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(lay):
                ax.axis("off")
                continue
            name, s = list(lay.items())[c]
            ax.stairs(s["gauss_hist"], BINS, fill=True, color="tab:red", alpha=0.45)  # one patch, not 30 bars
            ax.stairs(s["hist"], BINS, fill=True, color="tab:blue", alpha=0.6)
            head = f"{name} ({s['filters']}x{s['dim']})"
            ax.set_title(f"{head}\n{s['mu_mean']:.2f} vs {s['gauss_mu_mean']:.2f}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(run.label, fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("mu", fontsize=7)
    fig.suptitle(
        "Pairing filters: mu_i = min_j cos(phi_i, phi_j).  Blue: trained filters, red: random Gaussian "
        "filters of the same shape.  Panel titles: mean mu, trained vs Gaussian",
        fontsize=8,
    )
    numbers = {
        "figure": "pairing",
        "definition": "mu_i = min_{j != i} <phi_i, phi_j> over unit-norm filters of one conv layer (CReLU "
        "layers: the conv weights before the concatenation); gauss = the same for random Gaussian banks "
        f"of the same shape ({draws} draws, seed {seed})",
        "bins": BINS.round(4).tolist(),
        "runs": [{**run.summary(), "layers": lay} for run, lay in zip(runs, layers, strict=True)],
    }
    return fig, numbers
