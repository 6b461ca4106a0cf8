"""scripts/benchmark.py: it runs on the CPU in smoke mode, its figures come from timing, its report says so.

The smoke runs are real (the trainer's loop, the naive DataLoader loop, both pipelines) on a tiny CIFAR tree,
so the timings are meaningless as speeds; they are only checked to be measured (positive, finite, different
for different sizes).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from crelu_repro.core.distributed import native_bf16

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))  # as `python scripts/benchmark.py`: its bench_*.py siblings
_spec = importlib.util.spec_from_file_location("benchmark", REPO / "scripts" / "benchmark.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
bench_report = sys.modules["bench_report"]  # imported by benchmark.py from scripts/


def finite_positive(v) -> bool:
    return isinstance(v, float) and math.isfinite(v) and v > 0


def smoke_args(out: Path, steps: int) -> list[str]:
    """A few timed steps on the CPU, one thread and one naive worker, reporting to `out`."""
    return [
        "--smoke",
        "--steps",
        str(steps),
        "--threads",
        "1",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]


@pytest.fixture(scope="module")
def smoke(cifar_root, tmp_path_factory) -> tuple[dict, Path]:
    """One smoke run: a model that does not exist (its rows must fail alone), crelu_half; batches 2 and 8."""
    out = tmp_path_factory.mktemp("bench") / "bench.md"
    args = smoke_args(out, steps=2)
    args += ["--data", str(cifar_root), "--models", "no_such_model", "crelu_half", "--batch-sizes", "2", "8"]
    report = bench.main(args)
    return report, out


def rows(report: dict, kind: str, **kw) -> list[dict]:
    return [r for r in report["rows"] if r["kind"] == kind and all(r.get(k) == v for k, v in kw.items())]


def test_smoke_measures_both_loops_at_two_batch_sizes(smoke):
    report, _ = smoke
    for kind, keys in (("pipeline", ("project", "naive")), ("train", ("project", "naive"))):
        found = rows(report, kind, model="crelu_half") if kind == "train" else rows(report, kind)
        assert [r["batch"] for r in found] == [2, 8]
        for r in found:
            assert "error" not in r, r
            assert all(finite_positive(r[f"{k}_img_s"]) for k in keys), r
            assert r["ratio"] == pytest.approx(r["project_img_s"] / r["naive_img_s"])
        for k in keys:  # timed, not constants: two sizes give two different figures
            assert found[0][f"{k}_img_s"] != found[1][f"{k}_img_s"]
    for r in rows(report, "train", model="crelu_half"):
        assert finite_positive(r["model_only_img_s"]) and r["steps"] == 2 and r["threads"] == 1
        assert r["project_peak_mib"] is None  # a CPU run: no GPU memory to report


def test_a_failing_config_is_recorded_and_the_others_run(smoke):
    report, _ = smoke
    bad = rows(report, "train", model="no_such_model")
    assert [r["batch"] for r in bad] == [2, 8]
    assert all("no_such_model" in r["error"] and "project_img_s" not in r for r in bad)
    assert len(rows(report, "train", model="crelu_half")) == 2


def test_make_plan_finds_a_train_row_by_the_key_the_benchmark_writes(smoke, tmp_path):
    """probe.step_key is the one home of a row's key: the row this benchmark wrote (its report said to come
    from the plan's card) is the figure `make plan` reads for the same network, data and batch."""
    from crelu_repro.evidence.plan.figures import Benchmarks
    from crelu_repro.run.compose import compose

    report, _ = smoke
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps({**report, "machine": {**report["machine"], "card": "NVIDIA H200"}}))
    (row,) = rows(report, "train", model="crelu_half", batch=8)
    figure = Benchmarks(path, "H200").figure(compose(["model=crelu_half", "trainer.batch_size=8"]))
    assert figure.kind == "benchmark" and figure.step_s == pytest.approx(8 / row["project_img_s"])


def test_report_files_hold_the_measured_figures(smoke):
    report, out = smoke
    assert json.loads(out.with_suffix(".json").read_text())["rows"] == json.loads(json.dumps(report["rows"]))
    md = out.read_text()
    m = report["machine"]
    for text in (
        m["cpu"],
        f"{m['usable_cores']} of {m['cores']} cores",
        m["torch"],
        "none (CPU run)",
        m["date"],
    ):
        assert text in md
    for r in rows(report, "train", model="crelu_half") + rows(report, "pipeline"):
        assert bench.cell(r["project_img_s"]) in md and bench.cell(r["naive_img_s"]) in md
    assert "| CPU input pipeline, CIFAR b128" in md and "not measured in this run (needs CUDA" in md


def test_merge_combines_parts(smoke, tmp_path):
    report, out = smoke
    part = {**report, "commands": ["second part"], "rows": [{**report["rows"][0], "batch": 999}]}
    (tmp_path / "b.json").write_text(json.dumps(part))
    parts = [str(out.with_suffix(".json")), str(tmp_path / "b.json"), str(tmp_path / "gone.json")]
    merged = bench.main(["--merge", *parts, "--out", str(tmp_path / "all.md")])
    assert len(merged["rows"]) == len(report["rows"]) + 1 and merged["commands"][-1] == "second part"
    assert "| 999 |" in (tmp_path / "all.md").read_text()


def test_targets_give_verdicts_and_bounds():
    def row(kind: str, dev: str, data: str, project: float, naive: float, **kw) -> dict:
        return {"kind": kind, "device": dev, "dataset": data, "compile": "none", "project_img_s": project,
                "naive_img_s": naive, "ratio": project / naive, **kw}  # fmt: skip

    pipe = row("pipeline", "cpu", "cifar10", 4e3, 1e3, batch=128)
    one_thread = row("pipeline", "cpu", "cifar10", 2e4, 1e3, batch=128, forced_threads=1)
    one_thread["threads"] = 1
    fast = row("train", "cuda", "cifar10", 8e4, 2e4, model="crelu", batch=512)
    slow = row("train", "cuda", "cifar10", 3e4, 2e4, model="crelu", batch=128, model_only_img_s=6e4)
    got = {t["target"].split(":")[0]: t for t in bench.targets([pipe, one_thread, fast, slow])}
    cpu = got["CPU input pipeline, CIFAR b128"]
    assert cpu["verdict"] == "**missed**"  # the default-threads row decides; the 20x one is only a bound
    assert "4.00x" in cpu["measured"]
    assert "with 1 torch thread(s): 20.0x" in cpu["measured"]
    assert got["GPU crelu b512 bf16"]["verdict"] == "met"
    assert got["GPU crelu b128 bf16"]["verdict"] == "**missed**"
    assert "model step alone 60,000 img/s" in got["GPU crelu b128 bf16"]["measured"]
    assert got["CPU input pipeline, CIFAR b512"]["verdict"] == "-"


@pytest.mark.parametrize(
    ("rounds", "verdict"),
    [
        (["90/100 92/100 91/100", "100/100 101/100 99/100"], "**missed** (relu fp32 b128)"),  # 0.91: below
        (["90/100 110/100 98/100", "100/100 101/100 99/100"], "met"),  # no interval wholly below 1
        (["120/100", "100/100 101/100 99/100"], "not shown"),  # one round: no interval
    ],
)
def test_the_cpu_trainer_beside_the_plain_loop_gets_a_paired_verdict(rounds, verdict):
    base = {"kind": "train", "device": "cpu", "dataset": "cifar10", "precision": "fp32", "batch": 128}
    models = ("relu", "crelu")
    rows = [{**base, "model": m, "rounds_vs_plain": r} for m, r in zip(models, rounds, strict=True)]
    got = [t for t in bench.targets(rows) if t["target"].startswith("CPU training")]
    assert len(got) == 1 and got[0]["verdict"] == verdict
    assert "relu fp32 b128: " in got[0]["measured"] and "crelu fp32 b128: 1.00 (" in got[0]["measured"]
    gpu = [{**rows[0], "device": "cuda"}]  # the target is the CPU's
    assert not [t for t in bench.targets(gpu) if t["target"].startswith("CPU training")]


def test_synthetic_jpegs_are_imagenet_shaped(tmp_path):
    kb = bench.write_jpeg_tree(tmp_path, files=12, classes=3, unique=3)
    assert all(70 <= k <= 110 for k in kb), kb
    files = sorted((tmp_path / "train").rglob("*.JPEG"))
    assert len(files) == 12 and len({f.parent.name for f in files}) == 3
    assert all(os.stat(f).st_nlink > 1 for f in files)  # hard links: no disk space per extra file
    for f in files[:3]:
        with Image.open(f) as im:
            assert (
                im.format == "JPEG" and im.size in ((500, 375), (375, 500)) and not im.info.get("progressive")
            )


def test_imagenet_smoke(tmp_path):
    out = tmp_path / "bench.md"
    args = smoke_args(out, steps=1)
    report = bench.main([*args, "--no-cifar", "--imagenet", "--imagenet-batch", "1", "--tmp", str(tmp_path)])
    assert [r["kind"] for r in report["rows"]] == ["pipeline", "train"]
    for r in report["rows"]:
        assert "error" not in r, r
        assert finite_positive(r["project_img_s"]) and finite_positive(r["naive_img_s"])
    assert report["rows"][1]["model"] == "allcnnb_relu"
    assert not any(p.name.startswith("bench_imagenet_") for p in tmp_path.iterdir())  # the JPEGs are removed


def test_compute_only_times_the_model_step_with_no_data(tmp_path):
    """--compute-only: the model step alone on random batches of the dataset's shape, compiled or not (the
    eager backend only traces), with no dataset on disk; the report shows the rows and uses them as bounds."""
    out = tmp_path / "bench.md"
    args = [
        *smoke_args(out, steps=1),
        "--compute-only",
        "--data",
        str(tmp_path / "nowhere"),
        "--models",
        "relu",
    ]
    report = bench.main(
        [*args, "--batch-sizes", "4", "--compile", "none", "default", "--compile-backend", "eager"]
    )
    assert [(r["kind"], r["compile"]) for r in report["rows"]] == [
        ("compute", "none"),
        ("compute", "default"),
    ]
    assert all(finite_positive(r["model_only_img_s"]) and "error" not in r for r in report["rows"])
    assert report["rows"][1]["graphs"].startswith("1 / 0")  # one graph, no break
    assert "## Model step alone" in out.read_text() and report["rows"][0]["dataset"].startswith(
        "random cifar10"
    )
    train = {"kind": "train", "model": "relu", "device": "cpu", "batch": 4}  # an end-to-end row they bound
    assert [p.split(")")[0] for p in bench_report.parts(train, report["rows"])] == [
        "compute alone (none",
        "compute alone (default",
    ]


def test_plain_rows_sit_beside_the_trainers_in_each_precision(cifar_root, tmp_path):
    """--plain: a plain loop timed beside the trainer's, alternating rounds; --precision: fp32 and bf16 rows
    (bf16 only where this CPU computes in it: the row says which ran)."""
    out = tmp_path / "bench.md"
    args = ["--steps", "2", "--warmup", "1", "--threads", "1", "--device", "cpu", "--out", str(out), "--data",
            str(cifar_root), "--models", "crelu_half", "--batch-sizes", "8", "--no-pipeline", "--no-naive",
            "--plain", "--repeats", "2", "--precision", "fp32", "bf16"]  # fmt: skip
    report = bench.main(args)
    found = rows(report, "train", model="crelu_half")
    assert [r["precision"] for r in found] == ["fp32", "bf16" if native_bf16("cpu") else "fp32"]
    for r in found:
        assert finite_positive(r["plain_img_s"]) and finite_positive(r["project_img_s"]), r
        assert r["vs_plain"] == pytest.approx(r["project_img_s"] / r["plain_img_s"])
        assert len(r["rounds_vs_plain"].split()) == 2 and "naive_img_s" not in r
    assert "plain loop img/s" in out.read_text()
