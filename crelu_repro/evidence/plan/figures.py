"""Where a step time comes from, read and never measured here: the benchmark report's row for the chosen card
(results/benchmarks.json, found by `probe.step_key`), else an estimate from the network's multiply-accumulates
at a stated reference throughput. Stored probes of this machine are `probes.py`'s.

The estimate scales one measured point by MACs: ConvPool-CNN-C `crelu` trained at about 46,000 img/s (eager,
bf16, batch 128) on an H200, measured outside this project with a plain loop; an ImageNet step is also
held to the decoding pipeline's 12,000 img/s end-to-end target. MACs are counted on the meta device (shapes
only, no arithmetic): each convolution's output elements x its kernel's inputs, each linear layer's weights.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ...core import files
from ...core.errors import CreluError
from ...models import build_variant
from ...run.compose import compose
from ...train.probe import step_key

REFERENCE_CARD = "H200"  # issue 21: the reference GPU whose figures the plan quotes
REFERENCE_NET, REFERENCE_IMG_S = "crelu", 46_000  # ours: see the docstring (the README's cost table)
INPUT_BOUND_IMG_S = {"imagenet": 12_000}  # the ImageNet pipeline's end-to-end target (bench_report.NEED)


class PlanInputError(CreluError):
    """A file the plan reads (benchmarks.json, probes.json) that cannot be used: one line says why."""


@dataclass(frozen=True)
class Figure:
    """Seconds a training step, and where that figure comes from."""

    step_s: float
    kind: str  # "benchmark", "probe" or "estimate"
    source: str  # "benchmark (NVIDIA H200, 2026-11-27 13:58 UTC)", "probe (cpu: ..., date)", "estimate (...)"


@functools.cache
def _macs(model: str, classes: int, size: int) -> int:
    """Multiply-accumulates of one image's forward pass through the network `model` (a JSON description)."""
    with torch.device("meta"):  # no storage, no arithmetic: only the shapes
        net = build_variant(OmegaConf.create(json.loads(model)), classes).eval()
    total = [0]

    def count(layer: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        if isinstance(layer, nn.Conv2d):
            k = math.prod(layer.kernel_size) * layer.in_channels // layer.groups
            total[0] += out[0].numel() * k
        elif isinstance(layer, nn.Linear):
            total[0] += layer.in_features * layer.out_features

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    net(torch.empty(1, 3, size, size, device="meta"))
    for h in hooks:
        h.remove()
    return total[0]


def macs(cfg: DictConfig) -> int:
    """The forward multiply-accumulates of one image through `cfg`'s network at its dataset's image size."""
    model = json.dumps(OmegaConf.to_container(cfg.model, resolve=True), sort_keys=True)
    return _macs(model, int(cfg.dataset.num_classes), int(cfg.dataset.image_size))


def estimate(cfg: DictConfig) -> Figure:
    """The step on the reference card, estimated from the network's MACs (see the docstring)."""
    rate = REFERENCE_IMG_S * macs(_reference_cfg())  # MACs a second
    own = macs(cfg)
    img_s = rate / own
    bound = INPUT_BOUND_IMG_S.get(str(cfg.dataset.name))
    capped = bound is not None and bound < img_s
    img_s = min(img_s, bound) if capped else img_s
    why = f"; held to the input pipeline's {bound:,} img/s" if capped else ""
    source = (
        f"estimate ({own / 1e9:.2f} GMAC an image at {rate / 1e12:.1f} TMAC/s: {REFERENCE_NET} at "
        f"{REFERENCE_IMG_S:,} img/s on an {REFERENCE_CARD}, measured outside this project{why})"
    )
    return Figure(int(cfg.trainer.batch_size) / img_s, "estimate", source)


@functools.cache
def _reference_cfg() -> DictConfig:
    return compose([f"model={REFERENCE_NET}", "dataset=cifar10", "out_dir=."])


class Benchmarks:
    """The benchmark report's training rows measured on the chosen card (none when the report is absent or
    from another machine: `why` says so)."""

    def __init__(self, path: Path, card: str) -> None:
        self.path, self.card, self.rows, self.why = path, card, [], ""
        try:
            report = files.load_json(path)
        except FileNotFoundError:
            self.why = f"no {path}"
            return
        except files.JsonFileError as err:
            raise PlanInputError(f"{path} {err}; fix it, remove it, or give --benchmarks") from None
        machine = report.get("machine") if isinstance(report, dict) else None
        rows = report.get("rows") if isinstance(report, dict) else None
        if not isinstance(machine, dict | None) or not isinstance(rows, list):
            raise PlanInputError(f"{path} is not a benchmark report (no 'rows' list); fix it or remove it")
        self.measured_on = str((machine or {}).get("card") or "")
        self.date = str((machine or {}).get("date") or "undated")
        if card.lower() not in self.measured_on.lower():
            self.why = f"{path} has no {card} rows: it was measured on {self.measured_on or 'a CPU'}"
            return
        self.rows = [r for r in rows if isinstance(r, dict) and r.get("kind") == "train"
                     and _positive(r.get("project_img_s")) and not r.get("error")]  # fmt: skip

    def figure(self, cfg: DictConfig) -> Figure | None:
        """The card's measured step for exactly this network, data, image size, batch and runtime."""
        key = step_key(cfg)
        same = [r for r in self.rows if all(r.get(k) == v for k, v in key.items())]
        if not same:
            return None
        img_s = max(r["project_img_s"] for r in same)  # the report's best of its repeats
        return Figure(key["batch"] / img_s, "benchmark", f"benchmark ({self.measured_on}, {self.date})")


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def card_figure(cfg: DictConfig, bench: Benchmarks, probe: Figure | None, probe_device: str) -> Figure:
    """The chosen card's step: its benchmark row, else a stored probe taken on it, else the estimate."""
    if (found := bench.figure(cfg)) is not None:
        return found
    if probe is not None and bench.card.lower() in probe_device.lower():
        return probe
    return estimate(cfg)
