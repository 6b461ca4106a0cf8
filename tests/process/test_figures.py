"""`make figures`: the discussion figures drawn from the runs a table sweep left, CIFAR-10 and ImageNet (real
processes; the command line's refusals are in-process in tests/unit/test_figures_cli.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crelu_repro.core import files
from tests.helpers import IMAGENET_ARGS, REPO, renamed_run, run_train, train_env
from tests.helpers.claims import planned, run_config

SCRIPT = [sys.executable, str(REPO / "scripts" / "figures.py")]
SMALL = ["--images", "48", "--pool", "6", "--recon-images", "1", "--recon-iters", "200"]
# The tiny ImageNet tree has 4 classes: its runs are the imagenet table's under this recipe (their own
# folder), and the figures are asked for that recipe, as `make figures ARGS=` would be.
RECIPE = {"cifar10": (), "imagenet": ("dataset.num_classes=4",)}


def figures(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SCRIPT, *args], cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=600
    )


def place(trained: Path, sweeps: Path, table: str, dataset: str, model: str) -> Path:
    """`renamed_run` as `table`'s first planned run of `model` (seed 0 / fold 0): at its place, with fresh
    weights for its planned classes and its planned seed, fold, config and identity (reading the trained
    run's data), so that the table, and so the figures, count it."""
    run = planned(sweeps, table, model, dataset, 0, overrides=RECIPE[dataset])
    renamed_run(trained, run.path, model, run.classes)
    result = json.loads((run.path / "result.json").read_text())
    config = run_config(run, root=result["config"]["dataset"]["root"])
    result.update(dataset=dataset, seed=run.seed, fold=run.fold, identity=run.identity, config=config)
    files.write_json(run.path / "result.json", result)
    return run.path


@pytest.fixture(scope="module")
def sweeps(finished_run, imagenet_root, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("figures")
    proc = run_train(
        [
            *IMAGENET_ARGS,
            "model=allcnnb_relu",
            f"dataset.root={imagenet_root}",
            f"hydra.run.dir={base / 'in'}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    root = base / "multirun"
    for model in ("relu", "crelu"):
        place(finished_run, root, "convpool", "cifar10", model)
    for model in ("allcnnb_relu", "allcnnb_crelu_conv1_7", "allcnnb_crelu_conv1_4"):
        place(base / "in", root, "imagenet", "imagenet", model)
    return root


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_figures_come_from_the_table_runs_of_both_datasets(sweeps, tmp_path):
    out = tmp_path / "figures"
    for name in ("cifar10", "imagenet"):
        args = ["--sweeps", str(sweeps), "--out", str(out), "--sets", name, *SMALL, "--", *RECIPE[name]]
        proc = figures(*args)
        assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    for name in ("cifar10", "imagenet"):
        for figure in ("pairing", "invariance", "reconstruction"):
            assert (out / name / f"{figure}.png").read_bytes()[:4] == b"\x89PNG", (name, figure)
        pairing = json.loads((out / name / "pairing.json").read_text())
        table = "convpool" if name == "cifar10" else "imagenet"
        assert [r["run_dir"] for r in pairing["runs"]] == [
            str(planned(sweeps, table, m, name, 0, overrides=RECIPE[name]).path)
            for m in (("relu", "crelu") if name == "cifar10" else ("allcnnb_relu", "allcnnb_crelu_conv1_7"))
        ]
    imagenet = json.loads((out / "imagenet" / "pairing.json").read_text())["runs"][0]["layers"]
    assert imagenet["conv1"]["dim"] == 11 * 11 * 3  # AlexNet's conv1 shape, as in the paper's figure
    # All-CNN-B has no max-pooling: the paper's own setting, exact at every layer.
    recon = json.loads((out / "imagenet" / "reconstruction.json").read_text())["runs"]
    assert [r["model"] for r in recon] == ["allcnnb_crelu_conv1_4"]
    assert [recon[0]["layers"][f"conv{i}"]["exact"] for i in (1, 2, 3, 4)] == [True] * 4
    assert recon[0]["layers"]["conv1"]["rel_error_mean"] < 1e-3
    invariance = json.loads((out / "imagenet" / "invariance.json").read_text())["runs"][0]
    assert invariance["images"] == 8  # the tiny tree's whole val split, center crops
    assert set(invariance["layers"]) == {f"conv{i}" for i in range(1, 13)}


def test_one_set_missing_is_skipped_and_the_other_drawn(sweeps, tmp_path):
    partial = tmp_path / "multirun"
    shutil.copytree(sweeps / "convpool", partial / "convpool")
    out = tmp_path / "out"
    proc = figures("--sweeps", str(partial), "--out", str(out), "--figures", "pairing", "--no-tb")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "imagenet: skipped" in proc.stdout and (out / "cifar10" / "pairing.png").exists()
    assert not (out / "cifar10" / "invariance.png").exists()  # only the figures asked for
    assert not (out / "imagenet").exists()
