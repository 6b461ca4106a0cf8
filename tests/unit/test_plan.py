"""`make plan`: runs per side against a Monte Carlo power estimate; a plan of a tiny table in process that
reads its figures (a benchmark row, else an estimate) and never measures; PROBE=1 (a real probe of the
trainer's step on CPU) stored and reused; bad input: one line, exit 2, nothing written. Through make:
tests/process/test_plan_make.py."""

from __future__ import annotations

import functools
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

from crelu_repro.core.distributed import Dist
from crelu_repro.data import load_splits
from crelu_repro.evidence.claims.spec import CLAIMS_YAML
from crelu_repro.evidence.plan import main
from crelu_repro.evidence.plan.cost import planned_rows, run_shape
from crelu_repro.evidence.plan.figures import Benchmarks, Figure, card_figure
from crelu_repro.evidence.plan.probes import Prober
from crelu_repro.evidence.plan.sizes import runs_per_side
from crelu_repro.evidence.stats import t_quantile
from crelu_repro.evidence.stats.power import welch_power, welch_power_exact
from crelu_repro.evidence.tables import Table, table_names
from crelu_repro.run.compose import compose
from crelu_repro.train.build import build
from crelu_repro.train.eta import RunShape
from crelu_repro.train.probe import step_key
from tests.helpers import one_line_error
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
H200 = {"card": "NVIDIA H200", "date": "2026-12-01 10:00 UTC"}


def forbidden(*args, **kwargs):
    raise AssertionError("the plan measured: a default plan reads its figures")


@pytest.fixture
def tiny(cifar_root, tmp_path) -> SimpleNamespace:
    """The convpool table's QUICK recipe on relu and crelu_half (CIFAR-10, batch 16, CPU), two runs of
    crelu_half written, the paper's convpool_half claim alone; `run(*options)` plans it in process."""
    overrides = (*SMALL, f"dataset.root={cifar_root}")
    sweeps = tmp_path / "multirun"
    for i, error in enumerate([80.0, 82.0]):  # two runs of crelu_half: its spread is ours
        write_run(sweeps, "convpool", "crelu_half", "cifar10", i, error, quick=True, overrides=overrides)
    claims = tmp_path / "claims.yaml"  # the paper's claim on these rows alone: the others compose every table
    paper = yaml.safe_load(CLAIMS_YAML.read_text())
    claims.write_text(yaml.safe_dump({"claims": [c for c in paper["claims"] if c["id"] == "convpool_half"]}))
    t = SimpleNamespace(out=tmp_path / "results", benchmarks=tmp_path / "b.json", probes=tmp_path / "p.json")
    argv = ["--table", "convpool", "--quick", "--sweeps", str(sweeps), "--claims", str(claims)]
    argv += [f"--{k}={v}" for k, v in vars(t).items()]
    t.run = lambda *options: main([*argv, *options, "--", *overrides])
    t.plan = lambda: json.loads((t.out / "plan.json").read_text())
    t.cfgs = {r.row: r.cfg for r in planned_rows(Table("convpool", overrides, True, sweeps / "convpool"))}
    return t


def test_the_default_plan_reads_figures_and_never_measures(tiny, monkeypatch, capsys):
    monkeypatch.setattr(Prober, "step_s", forbidden)
    monkeypatch.setattr("crelu_repro.evidence.plan.probes.build", forbidden)
    row = {"kind": "train", **step_key(tiny.cfgs["relu"]), "project_img_s": 16_000.0}
    tiny.benchmarks.write_text(json.dumps({"machine": H200, "rows": [row]}))
    assert tiny.run() == 0
    assert "## Tables" in (tiny.out / "plan.md").read_text() and "convpool_half" in capsys.readouterr().out
    (table,) = tiny.plan()["tables"]
    assert table["runs"] == 4  # 2 rows x 2 models (QUICK), CIFAR-10 only
    rows = {r["row"]: r for r in table["rows"]}
    assert rows["relu"]["card"]["source"] == "benchmark (NVIDIA H200, 2026-12-01 10:00 UTC)"
    assert rows["relu"]["card"]["step_s"] == pytest.approx(16 / 16_000)
    estimate = rows["crelu_half"]["card"]  # no row: MACs at the reference (docs/tables.md: 0.13 vs 0.65 GMAC)
    assert estimate["kind"] == "estimate" and "46,000 img/s on an H200" in estimate["source"]
    assert estimate["step_s"] == pytest.approx(16 / 46_000 * 0.13 / 0.65, rel=0.02)
    for r in rows.values():
        assert r["shape"]["epochs"] == 1 and r["shape"]["batch"] == 16
        assert r["shape"]["steps_per_epoch"] == (500 - 500 // 10) // 16  # QUICK's 500 images, kfold
        assert r["card"]["hours"] == pytest.approx(r["runs"] * r["card"]["run_hours"])
        assert r["here"] is None and "PROBE=1" in r["here_why"]
    assert table["hours"] == pytest.approx(sum(r["card"]["hours"] for r in rows.values()))
    assert table["hours_here"] is None and table["sources"] == ["benchmark", "estimate"]
    assert not tiny.probes.exists()

    claim = next(c for c in tiny.plan()["claims"] if c["id"] == "convpool_half")
    check = next(c for c in claim["checks"] if c["id"] == "convpool_half:cifar10:test_error:crelu_half<relu")
    assert check["left"]["source"] == "our 2 runs"
    assert check["left"]["sd"] == pytest.approx(np.std([80, 82], ddof=1))
    assert check["right"]["source"] == "the paper's spread" and check["right"]["sd"] == 0.09
    assert check["detect"] == pytest.approx(10.20 - 9.44)  # the paper's own relu - crelu_half
    n = check["runs_per_side"]
    assert n == runs_per_side(check["detect"], check["left"]["sd"], 0.09)
    hours = {k: r["card"]["run_hours"] for k, r in rows.items()}
    assert check["hours"] == pytest.approx(n * (hours["relu"] + hours["crelu_half"]))
    assert check["hours_to_go"] == pytest.approx(max(n - 2, 0) * hours["crelu_half"] + n * hours["relu"])
    vote = next(c for c in claim["checks"] if c["metric"] == "vote_error")
    assert vote["runs_per_side"] is None and "test images" in vote["why"]


def test_the_card_figure_prefers_a_benchmark_then_a_probe_on_that_card_then_an_estimate(tmp_path):
    cfg, other = (compose(["model=relu", "trainer.device=cpu", f"trainer.batch_size={b}"]) for b in (128, 64))
    report = tmp_path / "b.json"
    row = {"kind": "train", **step_key(cfg), "project_img_s": 12_800.0}
    report.write_text(json.dumps({"machine": H200, "rows": [row]}))
    bench, probe = Benchmarks(report, "H200"), Figure(0.5, "probe", "probe (NVIDIA H200, 2026-12-02)")
    assert card_figure(cfg, bench, probe, "NVIDIA H200").step_s == pytest.approx(0.01)  # the benchmark's
    assert card_figure(other, bench, probe, "NVIDIA H200") is probe  # no row at batch 64: the probe
    assert card_figure(other, bench, probe, "cpu: a laptop").kind == "estimate"  # a probe of another device
    assert card_figure(cfg, Benchmarks(report, "H100"), None, "").kind == "estimate"  # another card's report
    assert Benchmarks(tmp_path / "none.json", "H200").why == f"no {tmp_path / 'none.json'}"


@pytest.mark.parametrize("protocol", ["kfold", "seeds"])
def test_the_run_shape_from_counts_is_the_shape_of_the_built_run(cifar_root, protocol):
    cfg = compose([f"eval={protocol}", "eval.fold=3", "eval.train_error_images=50", "trainer.device=cpu",
                   "trainer.batch_size=16", "model=crelu_half", f"dataset.root={cifar_root}",
                   "dataset.limit_train=128", "dataset.limit_test=64", "out_dir=."])  # fmt: skip
    built = build(cfg, torch.device("cpu"), Dist(), load_splits(cfg.dataset, cfg.eval))
    assert run_shape(cfg) == RunShape.of(cfg, built)


def test_probe_stores_each_step_and_the_next_plan_reuses_it(tiny, monkeypatch, capsys):
    assert tiny.run("--probe", "--steps", "2", "--warmup", "1") == 0
    err = capsys.readouterr().err
    progress = r"probe 1/2: relu on cifar10 b16 32px \(2 steps on cpu: .*\) \.\.\. [0-9.e-]+ s/step"
    assert re.search(progress, err)
    assert "probe 2/2: crelu_half on cifar10 b16 32px" in err
    stored = json.loads(tiny.probes.read_text())["probes"]
    assert [p["network"] for p in stored] == ["relu", "crelu_half"]
    for p in stored:
        assert p["device"].startswith("cpu: ") and p["torch"] == torch.__version__ and p["step_s"] > 0
        assert (p["data"], p["image_size"], p["batch"], p["steps"], p["warmup"]) == ("cifar10", 32, 16, 2, 1)
    first = tiny.plan()["tables"]
    for r in first[0]["rows"]:
        assert r["here"]["source"].startswith(f"probe ({stored[0]['device']}, {stored[0]['date'][:10]}")
        assert r["here"]["hours"] > 0

    monkeypatch.setattr(Prober, "step_s", forbidden)  # later plans read the stored probes
    assert tiny.run() == 0 and tiny.run("--probe") == 0
    assert "probe 1/" not in capsys.readouterr().err
    assert tiny.plan()["tables"] == first


@pytest.mark.parametrize("field", ["device", "torch"])
def test_a_probe_of_another_device_or_torch_is_not_reused(tiny, monkeypatch, field):
    calls = []
    monkeypatch.setattr(Prober, "step_s", lambda self, cfg: calls.append(cfg) or (0.25, {"steps": 1}))
    assert tiny.run("--probe") == 0 and len(calls) == 2
    stored = json.loads(tiny.probes.read_text())
    for p in stored["probes"]:
        p[field] += " elsewhere"
    tiny.probes.write_text(json.dumps(stored))
    assert tiny.run() == 0
    assert all(r["here"] is None for r in tiny.plan()["tables"][0]["rows"])
    assert tiny.run("--probe") == 0 and len(calls) == 4  # measured again, kept beside the others
    assert len(json.loads(tiny.probes.read_text())["probes"]) == 4


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [("probes", "{not json", "is not valid JSON"), ("probes", '{"probes": {}}', "holds no 'probes' list"),
     ("probes", '{"probes": [{"device": "c", "torch": "2", "date": "d", "step_s": -1}]}', "no valid step_s"),
     ("probes", '{"probes": [{"torch": "2", "date": "d", "step_s": 1}]}', "no valid device"),
     ("benchmarks", '{"rows": 3}', "is not a benchmark report")],
)  # fmt: skip
def test_a_malformed_probes_or_benchmarks_file_is_one_line_exit_2_and_nothing_written(
    tiny, capsys, name, text, why
):
    path = getattr(tiny, name)
    path.write_text(text)
    code = tiny.run()
    assert code == 2
    one_line_error(code, capsys.readouterr().err, str(path), why)
    assert not tiny.out.exists()


@pytest.mark.parametrize(("table", "why"), [("", "--table (make: TABLE=) is empty"), ("nope", "'nope'")])
def test_an_empty_or_unknown_table_is_refused_naming_the_tables(tmp_path, capsys, table, why):
    code = main(["--table", table, "--out", str(tmp_path / "r"), "--probes", str(tmp_path / "p.json")])
    assert code == 2
    one_line_error(code, capsys.readouterr().err, why, *table_names())
    assert list(tmp_path.iterdir()) == []  # nothing written
