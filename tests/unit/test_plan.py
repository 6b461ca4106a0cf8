"""`make plan`: runs per side against a Monte Carlo power estimate, a plan written for a tiny table in
process (a real probe of the trainer's step on CPU, our runs written by the real writer), bad input."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import yaml

from crelu_repro.evidence.claims.spec import CLAIMS_YAML
from crelu_repro.evidence.plan import main
from crelu_repro.evidence.plan.sizes import runs_per_side
from crelu_repro.evidence.stats import t_quantile
from crelu_repro.evidence.stats.power import welch_power, welch_power_exact
from tests.helpers.claims import write_run


def welch_power_mc(delta: float, sd: float, n: int, sims: int, rng: np.random.Generator, sd_b=None) -> float:
    """How often Welch's 95% interval excludes 0 for n runs a side, simulated: the test itself."""
    a = rng.normal(delta, sd, (sims, n))  # (sims, n)
    b = rng.normal(0.0, sd if sd_b is None else sd_b, (sims, n))
    va, vb = a.var(axis=1, ddof=1) / n, b.var(axis=1, ddof=1) / n  # (sims,)
    t = (a.mean(axis=1) - b.mean(axis=1)) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1))  # in [n - 1, 2n - 2]
    return float(np.mean(np.abs(t) > np.interp(df, *quantiles())))


@functools.cache
def quantiles() -> tuple[np.ndarray, np.ndarray]:
    """t's 97.5% quantile on a grid of df (interpolated between: it is smooth in df)."""
    grid = np.concatenate([np.linspace(1.0, 10.0, 91), np.linspace(10.5, 120.0, 220)])
    return grid, np.array([t_quantile(0.975, d) for d in grid])


@pytest.mark.parametrize(("delta", "sd"), [(0.81, 0.15), (0.3, 0.3)])
def test_runs_per_side_match_a_monte_carlo_power_estimate(delta, sd):
    planned = runs_per_side(delta, sd, sd)
    rng = np.random.default_rng(21)
    simulated = next(n for n in range(2, 60) if welch_power_mc(delta, sd, n, 20_000, rng) >= 0.8)
    assert abs(planned - simulated) <= 1, (planned, simulated)
    assert planned >= 2


@pytest.mark.parametrize(
    ("delta", "sd_a", "sd_b", "n"), [(0.81, 0.11, 0.09, 2), (0.81, 0.15, 0.15, 3), (0.3, 0.3, 0.6, 12)]
)
def test_welch_power_at_few_runs_matches_the_simulated_test(delta, sd_a, sd_b, n):
    # the paper's crelu vs relu on CIFAR-10 (0.81 apart, spreads 0.11 and 0.09): 2 runs a side have about
    # 68% power, not the 95% that Welch's expected df gives, so the plan asks for 3
    simulated = welch_power_mc(delta, sd_a, n, 40_000, np.random.default_rng(5), sd_b)
    assert welch_power_exact(delta, sd_a, sd_b, n) == pytest.approx(simulated, abs=0.015)
    if n == 2:
        assert welch_power(delta, sd_a, sd_b, n) > simulated + 0.2 and runs_per_side(delta, sd_a, sd_b) == 3


def test_a_larger_spread_or_a_quoted_number_changes_the_runs_needed():
    assert runs_per_side(0.3, 0.3, 0.6) > runs_per_side(0.3, 0.3, 0.3)
    assert runs_per_side(0.3, 0.3, None) < runs_per_side(0.3, 0.3, 0.3)  # one side has no spread


SMALL = ("hydra.sweeper.params.model='relu,crelu_half'", "hydra.sweeper.params.dataset=cifar10",
         "trainer.device=cpu", "trainer.batch_size=16")  # fmt: skip


def test_plan_json_and_md_for_a_tiny_table(cifar_root, tmp_path, capsys):
    sweeps, out, bench = tmp_path / "multirun", tmp_path / "results", tmp_path / "benchmarks.json"
    overrides = (*SMALL, f"dataset.root={cifar_root}")
    for i, error in enumerate([80.0, 82.0]):  # two runs of crelu_half: its spread is ours
        write_run(sweeps, "convpool", "crelu_half", "cifar10", i, error, quick=True, overrides=overrides)
    row = {
        "kind": "train",
        "model": "relu",
        "batch": 16,
        "dataset": "cifar10 (50,000 train)",
        "compile": "none",
    }
    reference = {"machine": {"card": "NVIDIA H200"}, "rows": [{**row, "project_img_s": 16_000.0}]}
    bench.write_text(json.dumps(reference))
    claims = tmp_path / "claims.yaml"  # the paper's claim on these rows alone: the others compose every table
    paper = yaml.safe_load(CLAIMS_YAML.read_text())
    claims.write_text(yaml.safe_dump({"claims": [c for c in paper["claims"] if c["id"] == "convpool_half"]}))
    argv = ["--table", "convpool", "--quick", "--steps", "2", "--warmup", "1", "--sweeps", str(sweeps)]
    files = ["--out", str(out), "--benchmarks", str(bench), "--claims", str(claims)]
    assert main([*argv, *files, "--", *overrides]) == 0
    plan = json.loads((out / "plan.json").read_text())
    assert "## Tables" in (out / "plan.md").read_text() and "convpool_half" in capsys.readouterr().out
    (table,) = plan["tables"]
    assert table["runs"] == 4  # 2 rows x 2 models (QUICK), CIFAR-10 only
    rows = {r["row"]: r for r in table["rows"]}
    for r in rows.values():
        shape = r["shape"]
        assert r["step_s"] > 0 and shape["epochs"] == 1 and shape["batch"] == 16
        assert shape["steps_per_epoch"] == (128 - 128 // 10) // 16  # the kfold training split of 128 images
        assert r["hours"] == pytest.approx(r["runs"] * r["run_hours"])
        assert r["data"].startswith("the files under")
    assert rows["relu"]["reference_run_hours"] > 0 and rows["relu"]["reference_why"] == ""
    assert rows["crelu_half"]["reference_run_hours"] is None
    assert rows["crelu_half"]["reference_why"].startswith("not measured")
    assert table["hours"] == pytest.approx(sum(r["hours"] for r in rows.values()))

    claim = next(c for c in plan["claims"] if c["id"] == "convpool_half")
    check = next(c for c in claim["checks"] if c["id"] == "convpool_half:cifar10:test_error:crelu_half<relu")
    assert check["left"]["source"] == "our 2 runs" and check["left"]["sd"] == pytest.approx(
        np.std([80, 82], ddof=1)
    )
    assert check["right"]["source"] == "the paper's spread" and check["right"]["sd"] == 0.09
    assert check["detect"] == pytest.approx(10.20 - 9.44)  # the paper's own relu - crelu_half
    n = check["runs_per_side"]
    assert n == runs_per_side(check["detect"], check["left"]["sd"], 0.09)
    assert check["hours"] == pytest.approx(n * (rows["relu"]["run_hours"] + rows["crelu_half"]["run_hours"]))
    to_go = max(n - 2, 0) * rows["crelu_half"]["run_hours"] + n * rows["relu"]["run_hours"]
    assert check["hours_to_go"] == pytest.approx(to_go)
    vote = next(c for c in claim["checks"] if c["metric"] == "vote_error")
    assert vote["runs_per_side"] is None and "test images" in vote["why"]


def test_an_unknown_table_is_one_line_and_a_nonzero_exit(tmp_path, capsys):
    assert main(["--table", "nope", "--out", str(tmp_path / "r")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown table 'nope'") and "\n" not in err
    assert not (tmp_path / "r").exists()  # nothing written
