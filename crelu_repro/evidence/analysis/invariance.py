"""Invariance scores per layer, after Goodfellow et al. (2009), "Measuring invariances in deep networks".

Our choices, where a conv net leaves Goodfellow's definition open:
- A unit is one channel of a conv block's output (after the activation; each CReLU phase is its own unit).
  Its firing events are (image, position) pairs, positions taken from the central `window` fraction of the
  map in each dimension, so that rotations and scalings about the image centre stay small transformations
  at every position used, and zero padding at the borders plays no part.
- Threshold t_c per unit: the (1 - rate) quantile of its responses over all images and those positions,
  i.e. a global firing rate G_c = rate (1%) pooled over images and positions (weight sharing makes the
  positions equivalent); G_c is measured, not assumed, in case of ties.
- Local firing rate L_c: over the events (x, p) of a pool of images where the unit fires, the fraction of
  transformed inputs T(x), T in one kind's set, on which the unit still fires at the same position p.
- Score S_c = L_c / G_c per kind (translation, rotation, scale); a layer's score for a kind is the mean over
  its top `top_frac` (20%) units, as Goodfellow et al. do; "mean" averages the three kinds' layer scores.
Translations are exact integer shifts with zero fill; rotations and scalings are one batched bilinear
`grid_sample` about the image centre. Zero fill is the training mean colour, as inputs are normalized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

Features = Callable[[torch.Tensor], dict[str, torch.Tensor]]  # (N, 3, H, W) -> {layer: (N, C, h, w)}


@dataclass(frozen=True)
class Transform:
    kind: str  # "translation" | "rotation" | "scale"
    value: tuple[float, ...]  # (dx, dy) in pixels | (degrees,) counter-clockwise | (factor,)

    def __str__(self) -> str:
        return f"{self.kind}{self.value}"


KINDS = ("translation", "rotation", "scale")
TOP_FRAC = 0.2  # a layer's score is the mean of its top 20% units (Goodfellow et al.)
DEFAULT_TRANSFORMS: tuple[Transform, ...] = (
    *(Transform("translation", (d, 0)) for d in (-2, -1, 1, 2)),
    *(Transform("translation", (0, d)) for d in (-2, -1, 1, 2)),
    *(Transform("rotation", (a,)) for a in (-15, -10, -5, 5, 10, 15)),
    *(Transform("scale", (s,)) for s in (0.9, 0.95, 1.05, 1.1)),
)


def apply_transform(x: torch.Tensor, t: Transform) -> torch.Tensor:
    """`t` applied to every image of the batch x (N, C, H, W) -> (N, C, H, W)."""
    n, _, h, w = x.shape
    if t.kind == "translation":  # content moves right by dx and down by dy: a pad and a crop, no blur
        dx, dy = int(t.value[0]), int(t.value[1])
        p = max(abs(dx), abs(dy))
        padded = F.pad(x, (p, p, p, p))  # (N, C, H + 2p, W + 2p), zeros = the mean colour
        return padded[:, :, p - dy : p - dy + h, p - dx : p - dx + w]
    if t.kind == "rotation":
        a = math.radians(t.value[0])
        # theta maps output to input coordinates (normalized, y down): rotate by -a so content turns by +a
        # counter-clockwise on screen; the h/w factors keep it a rotation in pixels for non-square images.
        theta = [[math.cos(a), -math.sin(a) * h / w, 0.0], [math.sin(a) * w / h, math.cos(a), 0.0]]
    elif t.kind == "scale":
        s = float(t.value[0])
        theta = [[1 / s, 0.0, 0.0], [0.0, 1 / s, 0.0]]  # content grows by s about the centre
    else:
        raise ValueError(f"unknown transformation kind {t.kind!r}; valid: {', '.join(KINDS)}")
    theta_t = torch.tensor(theta, dtype=x.dtype, device=x.device).expand(n, 2, 3)  # (N, 2, 3)
    grid = F.affine_grid(theta_t, list(x.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def central(a: torch.Tensor, window: float) -> torch.Tensor:
    """The central `window` fraction of a map in each dimension, positions flattened: (N, C, P)."""
    h, w = a.shape[-2:]
    kh, kw = max(1, round(h * window)), max(1, round(w * window))
    top, left = (h - kh) // 2, (w - kw) // 2
    return a[..., top : top + kh, left : left + kw].flatten(-2)


@torch.inference_mode()
def invariance_scores(
    features: Features,
    images: torch.Tensor,  # (N, 3, H, W), already normalized as the model expects
    transforms: tuple[Transform, ...] = DEFAULT_TRANSFORMS,
    pool: int = 200,
    rate: float = 0.01,
    top_frac: float = TOP_FRAC,
    window: float = 0.5,
    min_events: int = 10,  # fewer events make L too noisy (and the top-20% mean picks the noise)
    batch_size: int = 100,
) -> dict[str, dict]:
    """Per layer: the layer score per kind (and "mean"), and every unit's G, L and S (see module doc).

    Thresholds come from all N images; local rates from the first `pool` of them and every transform.
    """
    # 1. Responses at the central positions for every image -> per-unit threshold for the global rate.
    resp: dict[str, list[torch.Tensor]] = {}
    for i in range(0, len(images), batch_size):
        for name, a in features(images[i : i + batch_size]).items():
            resp.setdefault(name, []).append(central(a.float(), window))  # (B, C, P)
    thresholds, global_rate, fire0 = {}, {}, {}
    for name, chunks in resp.items():
        r = torch.cat(chunks)  # (N, C, P)
        per_unit = r.transpose(0, 1).flatten(1)  # (C, N * P)
        k = min(per_unit.shape[1], max(1, math.ceil((1 - rate) * per_unit.shape[1])))
        t = per_unit.kthvalue(k, dim=1).values  # (C,): at most a `rate` fraction lies above
        thresholds[name] = t
        global_rate[name] = (per_unit > t[:, None]).double().mean(1)  # (C,)
        fire0[name] = r[:pool] > t[None, :, None]  # (pool, C, P) events on the untransformed pool
    del resp
    # 2. Local firing: the same unit, the same position, on transformed versions of the event images.
    hits = {name: torch.zeros(len(transforms), f.shape[1], dtype=torch.float64) for name, f in fire0.items()}
    pool_images = images[:pool]
    step = max(1, batch_size // len(transforms))  # images per forward pass of T * step inputs
    for i in range(0, len(pool_images), step):
        x = pool_images[i : i + step]  # (b, 3, H, W)
        batch = torch.cat([apply_transform(x, t) for t in transforms])  # (T * b, 3, H, W)
        for name, a in features(batch).items():
            fired = central(a.float(), window) > thresholds[name][None, :, None]  # (T * b, C, P)
            fired = fired.view(len(transforms), len(x), *fired.shape[1:])  # (T, b, C, P)
            hits[name] += (fired & fire0[name][i : i + step]).sum(dim=(1, 3)).double()  # (T, C)
    # 3. Scores.
    out: dict[str, dict] = {}
    for name, f0 in fire0.items():
        events = f0.sum(dim=(0, 2)).double()  # (C,)
        valid = (events >= min_events) & (global_rate[name] > 0)
        layer: dict = {"units": int(f0.shape[1]), "valid_units": int(valid.sum())}
        layer.update(scores={}, units_detail={})
        for kind in KINDS:
            rows = [j for j, t in enumerate(transforms) if t.kind == kind]
            if not rows:
                continue
            local = hits[name][rows].sum(0) / (len(rows) * events.clamp_min(1))  # (C,)
            score = torch.where(valid, local / global_rate[name].clamp_min(1e-12), torch.nan)  # (C,)
            layer["scores"][kind] = top_mean(score, top_frac)
            layer["units_detail"][kind] = {"local": local.tolist(), "score": score.tolist()}
        layer["scores"]["mean"] = sum(layer["scores"].values()) / max(1, len(layer["scores"]))
        layer["global_rate"] = global_rate[name].tolist()
        layer["threshold"] = thresholds[name].tolist()
        layer["events"] = events.tolist()
        out[name] = layer
    return out


def top_mean(score: torch.Tensor, top_frac: float) -> float:
    """Mean of the highest `top_frac` of the finite scores (at least one); NaN if there are none."""
    ok = score[~score.isnan()]
    if ok.numel() == 0:
        return math.nan
    k = max(1, math.ceil(top_frac * ok.numel()))
    return float(ok.topk(k).values.mean())


def invariance_figure(curves: dict[str, dict[str, dict]], title: str) -> Figure:
    """Layer vs score, one line per run, one panel per kind and one for their mean."""
    panels = (*KINDS, "mean")
    fig = Figure(figsize=(3.0 * len(panels), 3.0), dpi=72, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, kind in zip(axes, panels, strict=True):
        for label, layers in curves.items():
            names = list(layers)
            ys = [layers[n]["scores"].get(kind, math.nan) for n in names]
            ax.plot(range(1, len(names) + 1), ys, marker="o", label=label)
            ax.set_xticks(range(1, len(names) + 1), [n.replace("conv", "c") for n in names], fontsize=7)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel("layer", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("invariance score (L / G)", fontsize=8)
    axes[-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    return fig
