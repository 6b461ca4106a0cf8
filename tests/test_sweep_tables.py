"""A QUICK multirun through Hydra: the grid runs, a rerun skips complete runs, failures are listed, and the
table renders our numbers beside the paper's."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, render_table, run_train

from crelu_repro.stats import vote_error

QUICK = ["trainer.device=cpu", "trainer.epochs=1", "trainer.batch_size=32", "trainer.eval_batch_size=64"]


def sweep(args: list[str]) -> subprocess.CompletedProcess:
    return run_train(["-m", *args], timeout=600)


@pytest.fixture(scope="module")
def convpool_sweep(cifar_root, tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("multirun") / "convpool"
    args = [
        "experiment=convpool",
        "model=relu,crelu_half",
        "dataset=cifar10",
        "eval.fold=0,1",
        "eval.models=2",
        f"dataset.root={cifar_root}",
        f"hydra.sweep.dir={sweep_dir}",
        *QUICK,
    ]
    first = sweep(args)
    assert first.returncode == 0, first.stderr[-3000:]
    return sweep_dir, args, first


def test_grid_runs_every_model_and_fold(convpool_sweep):
    sweep_dir, _, first = convpool_sweep
    results = sorted(sweep_dir.rglob("result.json"))
    assert len(results) == 4
    assert "sweep: 4 trained, 0 skipped" in first.stderr
    folds = {(r["model"], r["fold"]) for r in (json.loads(p.read_text()) for p in results)}
    assert folds == {("relu", 0), ("relu", 1), ("crelu_half", 0), ("crelu_half", 1)}


def test_rerun_skips_complete_runs_and_lists_failures(convpool_sweep):
    sweep_dir, args, _ = convpool_sweep
    # Break one run: its directory now holds a result of another configuration, which must be refused.
    victim = sweep_dir / "relu" / "cifar10" / "s0_f1" / "result.json"
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
    sweep_dir, args, _ = convpool_sweep
    victim = sweep_dir / "crelu_half" / "cifar10" / "s0_f0" / "result.json"
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
    sweep_dir, _, _ = convpool_sweep
    out = render_table("convpool", sweep_dir, tmp_path, "--quick")
    table = json.loads((tmp_path / "convpool.json").read_text())
    rows = {(r["model"], r["dataset"]): r for r in table["rows"]}
    relu = rows[("relu", "cifar10")]
    runs = [json.loads(p.read_text()) for p in sorted((sweep_dir / "relu").rglob("result.json"))]
    errors = [r["test_error"] for r in runs]
    assert relu["models"] == 2 and relu["test_error"]["average"] == pytest.approx(np.mean(errors))
    assert relu["test_error"]["std"] == pytest.approx(np.std(errors, ddof=1))
    assert relu["test_error"]["paper"]["average"] == 10.20  # the paper's number, shown beside ours
    assert relu["test_error"]["diff"] == pytest.approx(np.mean(errors) - 10.20)
    dirs = sorted(p.parent for p in (sweep_dir / "relu").rglob("result.json"))
    scores = np.stack([np.load(d / "test_scores.npy").astype(np.float32) for d in dirs])
    assert relu["test_error"]["vote"] == pytest.approx(
        vote_error(scores, np.load(dirs[0] / "test_labels.npy"))
    )
    half = rows[("crelu_half", "cifar10")]
    assert half["vs_baseline"]["low"] <= half["vs_baseline"]["delta"] <= half["vs_baseline"]["high"]
    assert rows[("crelu", "cifar10")]["models"] == 0  # not run: shown as missing, not invented
    assert "| crelu | 0/2 ! |" in out and "QUICK" in out
    assert out == (tmp_path / "convpool.md").read_text() + "\n"  # printed and written alike
    # The sweep's dashboard (what `make tensorboard TABLE=` writes first): a custom-scalars layout at its
    # root, beside the runs' own event files; rendering the table writes none.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert not (sweep_dir / "_layout").exists()
    subprocess.run([sys.executable, "-m", "crelu_repro.dashboard", str(sweep_dir)], cwd=REPO, check=True)

    layout = EventAccumulator(str(sweep_dir / "_layout"))
    layout.Reload()
    assert "custom_scalars__config__" in layout.Tags()["tensors"]
