"""Synthetic evidence for the claims and tables tests: finished runs with chosen errors, each at its
planned place with its planned identity (from the table's own plan, crelu_repro.evidence.tables.Table),
written by the runs' own result.json writer (and Vote scores), and discussion-figure JSON in the shape `make
figures` writes."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from crelu_repro.core import files
from crelu_repro.core.results import Result, write_result
from crelu_repro.evidence.tables import PlannedRun, Table
from crelu_repro.run.compose import compose

LABELS = np.arange(20) % 10  # (20,) test labels of every synthetic run


@functools.cache
def table(name: str, sweeps: Path, quick: bool = False, overrides: tuple[str, ...] = ()) -> Table:
    return Table(name, overrides, quick, sweeps / name)


def planned(sweeps: Path, name: str, model: str, dataset: str, index: int, quick: bool = False,
            overrides: tuple[str, ...] = ()) -> PlannedRun:  # fmt: skip
    """The `index`-th planned run of (model, dataset) in table `name` under `sweeps`."""
    runs = [r for r in table(name, sweeps, quick, overrides).runs if (r.row, r.dataset) == (model, dataset)]
    return runs[index]


def run_config(run: PlannedRun, **dataset: object) -> dict:
    """The resolved config `run` has (as train.py records it in result.json), `dataset` keys replaced
    (paths only: `root=` changes no identity)."""
    config = json.loads(_config(run.overrides))
    config["out_dir"] = str(run.path)
    config["dataset"].update(dataset)
    return config


@functools.cache
def _config(overrides: tuple[str, ...]) -> str:
    return json.dumps(
        OmegaConf.to_container(compose([*overrides, "out_dir=."]), resolve=True, enum_to_str=True)
    )


def write_run(
    sweeps: Path,
    name: str,
    model: str,
    dataset: str,
    index: int,
    test_error: float,
    quick: bool = False,
    overrides: tuple[str, ...] = (),
    **fields: object,
) -> Path:
    """The `index`-th planned run of (model, dataset), finished at its planned place with its planned
    identity; `fields` sets other Result fields. Its test scores vote for the true label on the first
    `round(20 * (1 - test_error / 100))` images (20 test images, 10 classes)."""
    run = planned(sweeps, name, model, dataset, index, quick, overrides)
    run.path.mkdir(parents=True)
    config = run_config(run)
    values = dict(
        model=model,
        dataset=dataset,
        protocol="kfold" if run.fold is not None else "seeds",
        seed=run.seed,
        fold=run.fold,
        epochs=config["trainer"]["epochs"],
        params=1000,
        train_error=0.0,
        val_error=None,
        test_error=test_error,
        num_train=100,
        num_val=10,
        num_test=len(LABELS),
        wall_s=1.0,
        images_per_s=1.0,
        device="cpu",
        world_size=1,
        torch="test",
        code_version="test",
        identity=run.identity,
        config=config,
    )
    write_result(run.path, Result(**{**values, **fields}))
    right = round(len(LABELS) * (1 - test_error / 100))
    predicted = np.where(np.arange(len(LABELS)) < right, LABELS, (LABELS + 1) % 10)  # (20,)
    scores = np.full((len(LABELS), run.classes), 0.01, dtype=np.float16)  # (20, classes)
    scores[np.arange(len(LABELS)), predicted] = 0.91
    files.write_npy(run.path / files.SCORES, scores)
    files.write_npy(run.path / files.LABELS, LABELS)
    return run.path


def write_runs(
    sweeps: Path, name: str, model: str, dataset: str, errors: list[float], **fields: object
) -> list[Path]:
    """The first len(errors) planned runs of (model, dataset), with these test errors."""
    return [write_run(sweeps, name, model, dataset, i, error, **fields) for i, error in enumerate(errors)]


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
