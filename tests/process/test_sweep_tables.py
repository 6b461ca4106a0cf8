"""A QUICK multirun through Hydra: the grid runs, a rerun skips complete runs, failures are listed, the
table renders our numbers beside the paper's from exactly the runs it plans (the planner's directories and
identities are what train.py really wrote), and a sweep with another recipe gets a folder of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crelu_repro.data.evaluate import vote_error
from crelu_repro.evidence import tables
from tests.helpers import REPO, render_table, run_train
from tests.helpers.claims import planned

QUICK = ["trainer.device=cpu", "trainer.epochs=1", "trainer.batch_size=32", "trainer.eval_batch_size=64"]


def sweep(args: list[str]) -> subprocess.CompletedProcess:
    return run_train(["-m", *args], timeout=600)


def render_here(name: str, sweep_dir: Path, out: Path, *extra: str) -> str:
    """The table CLI in this process (`render_table` runs it as a process)."""
    assert tables.main([name, "--sweep-dir", str(sweep_dir), "--out", str(out), *extra]) == 0
    return (out / f"{name}.md").read_text()


def run_dir(sweep_dir: Path, model: str, fold: int, overrides: list[str]) -> Path:
    """Where the table's plan puts `model`'s fold on cifar10 with these overrides."""
    return planned(sweep_dir.parent, "convpool", model, "cifar10", fold, overrides=tuple(overrides)).path


@pytest.fixture(scope="module")
def convpool_sweep(cifar_root, tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("multirun") / "convpool"
    overrides = [  # what `make table-convpool ARGS=...` gives the sweep and the table alike
        "model=relu,crelu_half",
        "dataset=cifar10",
        "eval.fold=0,1",
        "eval.models=2",
        f"dataset.root={cifar_root}",
        *QUICK,
    ]
    args = ["experiment=convpool", *overrides, f"hydra.sweep.dir={sweep_dir}"]
    first = sweep(args)
    assert first.returncode == 0, first.stderr[-3000:]
    return sweep_dir, args, first, overrides


def test_grid_runs_every_model_and_fold(convpool_sweep):
    sweep_dir, _, first, overrides = convpool_sweep
    results = sorted(sweep_dir.rglob("result.json"))
    models = ("relu", "crelu_half")
    assert results == sorted(
        run_dir(sweep_dir, m, f, overrides) / "result.json" for m in models for f in (0, 1)
    )
    recipe = "trainer.batch_size=32,trainer.device=cpu,trainer.epochs=1"  # its own folder: not the file's
    assert all(p.relative_to(sweep_dir).parts[0] == recipe for p in results)
    assert "sweep: 4 trained, 0 skipped" in first.stderr
    folds = {(r["model"], r["fold"]) for r in (json.loads(p.read_text()) for p in results)}
    assert folds == {("relu", 0), ("relu", 1), ("crelu_half", 0), ("crelu_half", 1)}


def test_rerun_skips_complete_runs_and_lists_failures(convpool_sweep):
    sweep_dir, args, _, overrides = convpool_sweep
    # Break one run: its directory now holds a result of another configuration, which must be refused.
    victim = run_dir(sweep_dir, "relu", 1, overrides) / "result.json"
    original = victim.read_text()
    tampered = json.loads(original)
    tampered["identity"]["trainer"]["epochs"] = 99
    victim.write_text(json.dumps(tampered))
    try:
        rerun = sweep(args)
        assert rerun.returncode == 1
        assert (
            "sweep: 0 trained, 3 skipped (already complete), 0 busy (another process trains them), 1 failed"
            in (rerun.stderr)
        )
        assert (
            "FAILED" in rerun.stderr and "s0_f1" in rerun.stderr and "trainer.epochs: 99 -> 1" in rerun.stderr
        )
        assert json.loads(victim.read_text())["identity"]["trainer"]["epochs"] == 99  # nothing overwritten
        error = json.loads((victim.parent / "error.json").read_text())
        assert "different configuration" in error["error"]
    finally:
        victim.write_text(original)
        (victim.parent / "error.json").unlink(missing_ok=True)


def test_deleting_one_result_reruns_exactly_that_run(convpool_sweep):
    sweep_dir, args, _, overrides = convpool_sweep
    victim = run_dir(sweep_dir, "crelu_half", 0, overrides) / "result.json"
    before = victim.read_text()
    victim.unlink()
    rerun = sweep(args)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "sweep: 0 trained, 3 skipped" not in rerun.stderr
    assert (
        "sweep: 1 trained, 3 skipped (already complete), 0 busy (another process trains them), 0 failed"
        in (rerun.stderr)
    )
    # Its checkpoint held the finished state: the rerun only re-evaluates, and gets the same numbers.
    after = json.loads(victim.read_text())
    assert after["test_error"] == json.loads(before)["test_error"]


def test_table_renders_ours_beside_the_paper(convpool_sweep, tmp_path):
    sweep_dir, _, _, overrides = convpool_sweep
    out = render_table("convpool", sweep_dir, tmp_path, "--", *overrides)
    table = json.loads((tmp_path / "convpool.json").read_text())
    rows = {(r["model"], r["dataset"]): r for r in table["rows"]}
    relu = rows[("relu", "cifar10")]
    dirs = [run_dir(sweep_dir, "relu", f, overrides) for f in (0, 1)]
    runs = [json.loads((d / "result.json").read_text()) for d in dirs]
    errors = [r["test_error"] for r in runs]
    assert relu["models"] == 2 and relu["test_error"]["average"] == pytest.approx(np.mean(errors))
    assert relu["test_error"]["std"] == pytest.approx(np.std(errors, ddof=1))
    assert relu["test_error"]["paper"]["average"] == 10.20  # the paper's number, shown beside ours
    assert relu["test_error"]["diff"] == pytest.approx(np.mean(errors) - 10.20)
    scores = np.stack([np.load(d / "test_scores.npy").astype(np.float32) for d in dirs])
    assert relu["test_error"]["vote"] == pytest.approx(
        vote_error(scores, np.load(dirs[0] / "test_labels.npy"))
    )
    half = rows[("crelu_half", "cifar10")]
    assert half["vs_baseline"]["low"] <= half["vs_baseline"]["delta"] <= half["vs_baseline"]["high"]
    assert "| relu | 2/2 |" in out and "| crelu_half | 2/2 |" in out  # every planned run counted
    assert "| crelu |" not in out  # the sweep's own model list: the table shows what it planned
    assert "with `trainer.batch_size=32 trainer.device=cpu trainer.epochs=1`: 1 epochs, batch 32" in out
    assert out == (tmp_path / "convpool.md").read_text() + "\n"  # printed and written alike
    # The sweep's dashboard (what `make tensorboard TABLE=` writes first): a custom-scalars layout at its
    # root, beside the runs' own event files; rendering the table writes none.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert not (sweep_dir / "_layout").exists()
    subprocess.run(
        [sys.executable, "-m", "crelu_repro.train.dashboard", str(sweep_dir)], cwd=REPO, check=True
    )

    layout = EventAccumulator(str(sweep_dir / "_layout"))
    layout.Reload()
    assert "custom_scalars__config__" in layout.Tags()["tensors"]


def test_another_recipe_gets_its_own_folder_and_never_touches_finished_runs(convpool_sweep, tmp_path):
    """`make table-convpool ARGS="... optim.lr=0.1"` over finished runs of another lr: they were refused, got
    error.json and showed as failed. Now the new recipe trains in its own folder and each table shows its
    own recipe's runs, naming the other's folder as not counted."""
    sweep_dir, _, _, overrides = convpool_sweep
    recipe = run_dir(sweep_dir, "relu", 0, overrides).parents[2]  # the finished runs' recipe folder
    finished = {p: p.read_bytes() for p in recipe.rglob("*") if p.is_file()}
    other = [o for o in overrides if not o.startswith(("model=", "eval.fold="))]
    other += ["model=relu", "eval.fold=0", "optim.lr=0.1"]
    rerun = sweep(["experiment=convpool", *other, f"hydra.sweep.dir={sweep_dir}"])
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (
        "sweep: 1 trained, 0 skipped (already complete), 0 busy (another process trains them), 0 failed"
        in (rerun.stderr)
    )
    assert {p: p.read_bytes() for p in recipe.rglob("*") if p.is_file()} == finished  # not touched at all
    assert not list(sweep_dir.rglob("error.json"))
    new = run_dir(sweep_dir, "relu", 0, other)
    assert (
        new.relative_to(sweep_dir).parts[0]
        == "optim.lr=0.1,trainer.batch_size=32,trainer.device=cpu,trainer.epochs=1"
    )
    out = render_here("convpool", sweep_dir, tmp_path / "two", "--", *other)
    assert "| relu | 1/1 |" in out and "sgd lr 0.1, onecycle" in out
    table = json.loads((tmp_path / "two" / "convpool.json").read_text())
    assert table["rows"][0]["runs"] == [{"seed": 0, "fold": 0, "dir": str(new)}]
    assert [n["path"] for n in table["not_counted"]] == [
        str(sweep_dir / "trainer.batch_size=32,trainer.device=cpu,trainer.epochs=1")
    ]  # one line for the other recipe's folder (4 results), not one per run
    out = render_here("convpool", sweep_dir, tmp_path / "one", "--", *overrides)
    assert "| relu | 2/2 |" in out and "| crelu_half | 2/2 |" in out
    assert "trainer.epochs=1`: 1 result(s) in a folder the plan does not use" in out
