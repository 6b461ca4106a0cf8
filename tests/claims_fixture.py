"""Synthetic evidence for the claims tests: finished runs with chosen errors, written by the runs' own
result.json writer (and Vote scores), and discussion-figure JSON in the shape `make figures` writes."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from crelu_repro import runio
from crelu_repro.config import compose
from crelu_repro.paths import run_subdir
from crelu_repro.results import Result, write_result

LABELS = np.arange(20) % 10  # (20,) test labels of every synthetic run


@functools.cache
def _experiment(table: str) -> str:
    cfg = compose([f"experiment={table}", "out_dir=."])
    return json.dumps(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))


def run_config(table: str, model: str, dataset: str, seed: int, run_dir: Path) -> dict:
    """The resolved config such a run of the table's sweep has (as train.py records it in result.json)."""
    config = json.loads(_experiment(table))
    config["model"]["name"], config["dataset"]["name"], config["out_dir"] = model, dataset, str(run_dir)
    config["seed"] = config["eval"]["fold"] = seed
    return config


def write_run(
    sweeps: Path, table: str, model: str, dataset: str, seed: int, test_error: float, **fields: object
) -> Path:
    """A finished run at the sweep's path for (model, dataset, seed); `fields` sets other Result fields.
    Its test scores vote for the true label on the first `round(20 * (1 - test_error / 100))` images."""
    run_dir = sweeps / table / run_subdir(model, dataset, seed, seed)
    run_dir.mkdir(parents=True)
    values = dict(
        model=model,
        dataset=dataset,
        protocol="kfold",
        seed=seed,
        fold=seed,
        epochs=1,
        params=1000,
        train_error=0.0,
        val_error=None,
        test_error=test_error,
        num_train=100,
        num_val=10,
        num_test=20,
        wall_s=1.0,
        images_per_s=1.0,
        device="cpu",
        world_size=1,
        torch="test",
        code_version="test",
        config=run_config(table, model, dataset, seed, run_dir),
    )
    write_result(run_dir, Result(**{**values, **fields}))
    right = round(len(LABELS) * (1 - test_error / 100))
    predicted = np.where(np.arange(len(LABELS)) < right, LABELS, (LABELS + 1) % 10)  # (20,)
    scores = np.full((len(LABELS), 10), 0.01, dtype=np.float16)  # (20, 10)
    scores[np.arange(len(LABELS)), predicted] = 0.91
    runio.write_npy(run_dir / runio.SCORES, scores)
    runio.write_npy(run_dir / runio.LABELS, LABELS)
    return run_dir


def write_runs(
    sweeps: Path, table: str, model: str, dataset: str, errors: list[float], **fields: object
) -> None:
    for seed, error in enumerate(errors):
        write_run(sweeps, table, model, dataset, seed, error, **fields)


def write_figure(figures: Path, figure_set: str, figure: str, runs: dict[str, dict]) -> Path:
    """<figures>/<set>/<figure>.json with `runs`: model -> its per-layer numbers."""
    path = figures / figure_set / f"{figure}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"figure": figure, "runs": [{"model": m, "layers": layers} for m, layers in runs.items()]}
    path.write_text(json.dumps(payload))
    return path


def spread(center: float, n: int, width: float) -> list[float]:
    """n values evenly spread over center ± width."""
    return np.linspace(center - width, center + width, n).round(4).tolist()
