"""Finished run directories as analysis inputs, and the three places every figure goes.

A run directory (from `train.py`) holds `result.json` (with the resolved config), `checkpoint.pt` and `tb/`.
`load_run` rebuilds the exact network; `eval_images` gives test images normalized the way training did
(per-channel statistics of the run's own training split). `publish` writes a figure as PNG, its numbers as
JSON, and the same image to each run's TensorBoard.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure
from omegaconf import OmegaConf
from torch import nn

from ...core import files
from ...core.errors import ConfigError
from ...core.results import Result, read_result
from ...models import SpecNet, build_variant
from ...run.identity import code_version
from ...train import checkpoint
from ...train.dashboard import TB


@dataclass
class Run:
    run_dir: Path
    model: SpecNet  # eval mode, on CPU
    result: Result  # result.json

    @property
    def config(self) -> dict:
        return self.result.config

    @property
    def label(self) -> str:
        """Legend text: the model (and the run directory's name where it differs), epochs, test error."""
        model, err = self.result.model, self.result.test_error
        name = model if self.run_dir.name == model else f"{model} ({self.run_dir.name})"
        return f"{name}, {self.result.epochs} ep, {err:.1f}% err"

    def summary(self) -> dict:
        """What a figure's JSON says about the run it came from: its outcome and provenance."""
        keys = (
            "model",
            "dataset",
            "epochs",
            "seed",
            "fold",
            "test_error",
            "train_error",
            "num_train",
            "code_version",
        )
        return {
            "run_dir": str(self.run_dir),
            **{k: getattr(self.result, k) for k in keys},
            "config": self.config,
        }


def load_run(run_dir: str | os.PathLike) -> Run:
    """Rebuild the finished run's network from its config and load its checkpoint's weights."""
    run_dir = Path(run_dir)
    result = read_result(run_dir)
    if result is None:
        raise ConfigError(
            f"{run_dir} is not a finished run: no readable result.json (train.py writes it last)"
        )
    ckpt = checkpoint.read(run_dir, require=("model",))
    if ckpt is None:
        raise ConfigError(f"{run_dir} has result.json but no {checkpoint.CHECKPOINT}")
    model = build_variant(result.config["model"], result.config["dataset"]["num_classes"])
    model.load_state_dict(ckpt["model"])
    return Run(run_dir, frozen(model), result)


def eval_images(
    run: Run, n: int, data_root: str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`n` test images of the run's dataset, preprocessed and normalized as its evaluation did: the dataset's
    own test loader (data/: its plug-in) with limit_test=n. CIFAR: the first n test images, normalized with
    the statistics of the run's own training split; ImageNet: n validation images taken round-robin over
    classes, center crops. Returns (x, mean, std): x (n, 3, H, W) float32 = (pixels - mean) / std, mean and
    std (3,) in pixel units; fewer than n rows if some ImageNet files are unreadable."""
    from ...data import feeder_for, load_splits

    dataset = dict(run.config["dataset"], limit_test=n, download=False, num_workers=0)
    if data_root is not None:
        dataset["root"] = data_root
    cfg = OmegaConf.create(dataset)
    # load_splits applies limit_train and the k-fold split, so CIFAR's statistics are the run's own.
    splits = load_splits(cfg, OmegaConf.create(run.config["eval"]))
    test = feeder_for(splits, cfg, torch.device("cpu"), torch.float32, False)(splits.test, False)
    x = torch.cat([batch for batch, _ in test.eval_batches(64)])  # (n, 3, H, W)
    return x, test.mean.flatten().cpu(), test.std.flatten().cpu()


def conv_layers(model: SpecNet) -> list[str]:
    """Names of the model's conv blocks, in order: ['conv1', 'conv2', ...]."""
    return [name for name, m in model.layers.named_children() if name.startswith("conv")]


def layer_outputs(model: SpecNet, x: torch.Tensor, keep: list[str]) -> OrderedDict[str, torch.Tensor]:
    """`model.features(x)` restricted to `keep`, stopping after the last of them (deeper layers cost time)."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    last = max(i for i, (name, _) in enumerate(model.layers.named_children()) if name in keep)
    for i, (name, layer) in enumerate(model.layers.named_children()):
        x = layer(x)
        if name in keep:
            out[name] = x
        if i == last:
            break
    return out


def publish(fig: Figure, numbers: dict, name: str, out_dir: Path, runs: list[Run], tb: bool = True) -> Path:
    """Write `out_dir/name.png` and `name.json`, and add the figure to each run's TensorBoard.

    The TensorBoard event is at the run's last epoch, so it lines up with the training curves.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    files.atomic_write(png, lambda f: fig.savefig(f, format="png", dpi=fig.dpi))  # no half-written PNG
    numbers = {**numbers, "analysis_code_version": code_version()}  # the code that drew it
    files.atomic_write(out_dir / f"{name}.json", lambda f: f.write(_dumps(numbers).encode()))
    if tb:
        from torch.utils.tensorboard import SummaryWriter

        for run in runs:
            with SummaryWriter(str(files.own_dir(run.run_dir / TB))) as writer:  # never through a link
                step = run.result.epochs
                writer.add_figure(f"analysis/{name}", fig, global_step=step, close=False)
                writer.add_text(f"analysis/{name}_json", f"```\n{_dumps(numbers)[:20000]}\n```", step)
    return png


def _dumps(obj: dict) -> str:
    return json.dumps(_finite(obj), indent=1, default=_jsonable, allow_nan=False) + "\n"


def _finite(obj):
    """NaN / inf -> None, so the JSON is strict (NaN marks "no valid unit" and the like)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def frozen(model: nn.Module) -> nn.Module:
    """The model in eval mode with gradients off (analysis never trains)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
