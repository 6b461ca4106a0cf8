"""scripts/gpu_summary.py, the GPU session's summary, on a made-up session folder as a GPU would leave it:
each figure beside its target with the right verdict, the accuracy against the reference (and no verdict
for a shorter run), determinism, the CUDA paths, and at most 8 small files."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))  # as `python scripts/gpu_summary.py`: its bench_*.py siblings
_spec = importlib.util.spec_from_file_location("gpu_summary", REPO / "scripts" / "gpu_summary.py")
summary = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(summary)


def result(finished: Path, dest: Path, **fields) -> None:
    shutil.copytree(finished, dest, ignore=shutil.ignore_patterns("checkpoint.pt", "tb"))
    data = json.loads((dest / "result.json").read_text())
    (dest / "result.json").write_text(json.dumps({**data, **fields}))


@pytest.fixture
def session(finished_run, tmp_path) -> Path:
    runs = tmp_path / "runs"
    (runs / "bench").mkdir(parents=True)
    (runs / "logs").mkdir()
    (runs / "logs" / "env.log").write_text("NVIDIA H100 80GB HBM3, 81559 MiB\n")
    (runs / "logs" / "b512-default.log").write_text("x" * 3_000_000)  # a huge log: cut in the archive
    steps = [
        "env\tok\t0\t4\t30\t",
        "eager\tok\t0\t50\t150\t",
        "imagenet\tok\t0\t60\t150\t",
        "check-relu\tok\t0\t40\t150\t",
        "check-crelu\tok\t0\t45\t150\t",
        "det\tok\t0\t30\t90\t",
        "b512-default\ttimed out\t124\t150\t150\tcompiling",
        "b128-reduce-overhead\tskipped\t\t0\t20\t",
    ]
    (runs / "steps.tsv").write_text("\n".join(steps) + "\n")
    machine = {
        "date": "2026-12-05 09:00 UTC",
        "cpu": "Xeon",
        "cores": 16,
        "usable_cores": 16,
        "load_avg": 0.5,
        "card": "NVIDIA H100 80GB HBM3",
        "torch": "2.11.0",
        "torchvision": "0.26.0",
        "python": "3.12",
        "code": "abc",
    }
    base = {"kind": "train", "device": "cuda", "dataset": "cifar10 (12,500 train)", "model": "crelu"}
    rows = [
        {
            **base,
            "batch": 512,
            "compile": "none",
            "project_img_s": 80_000.0,
            "naive_img_s": 20_000.0,
            "ratio": 4.0,
        },
        {
            **base,
            "batch": 128,
            "compile": "none",
            "project_img_s": 30_000.0,
            "naive_img_s": 18_000.0,
            "ratio": 30 / 18,
            "model_only_img_s": 41_000.0,
        },
    ]
    (runs / "bench" / "eager.json").write_text(
        json.dumps({"machine": machine, "commands": ["c"], "rows": rows})
    )
    result(finished_run, runs / "check" / "relu_s0", epochs=40, test_error=13.9, device="cuda")
    result(finished_run, runs / "check" / "crelu_s0", epochs=40, test_error=15.5, device="cuda")
    for run in "ab":
        result(finished_run, runs / "det" / run, device="cuda")
    return runs


def figure(info: dict, start: str) -> dict:
    (row,) = [f for f in info["figures"] if f["figure"].startswith(start)]
    return row


def test_every_figure_beside_its_target_with_its_verdict(session, tmp_path, capsys):
    out = tmp_path / "summary"
    code = summary.main(["--runs", str(session), "--out", str(out), "--budget", "540", "--epochs", "40"])
    assert code == 1  # a step timed out
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(summary.FILES) and all((out / n).stat().st_size < 1_000_000 for n in names)
    info = json.loads((out / "summary.json").read_text())
    assert figure(info, "GPU crelu b512")["verdict"] == "met"
    assert figure(info, "GPU crelu b128")["verdict"] == "**missed**"  # 1.67x < 2x
    assert "model step alone 41,000 img/s" in figure(info, "GPU crelu b128")["measured"]
    assert figure(info, "relu test error")["verdict"] == "within"  # 13.9 vs 13.2: 0.7 points
    assert figure(info, "crelu test error")["verdict"] == "**outside**"  # 15.5 vs 14.0
    assert figure(info, "trainer.deterministic")["verdict"] == "met"
    assert figure(info, "GPU All-CNN-B")["verdict"] == "-"  # not measured here
    paths = {p["path"]: p["by"] for p in info["paths"]}
    assert paths["torch.compile (inductor)"] == "b512-default: timed out"
    assert paths["CUDA graphs (compile reduce-overhead)"] == "b128-reduce-overhead: skipped"
    assert "NVIDIA H100" in (out / "env.txt").read_text()
    printed = capsys.readouterr().out.rstrip().splitlines()
    table = printed[len(printed) - printed[::-1].index("") :]  # the last block: the figures and targets
    assert table[0] == "| figure | measured | target | verdict |" and table[-1].startswith(
        "| trainer.deterministic"
    )


def test_a_shorter_run_is_not_compared_with_the_reference(session, tmp_path):
    result(session / "check" / "relu_s0", session / "short", epochs=10, test_error=13.3)
    shutil.rmtree(session / "check" / "relu_s0")
    (session / "short").rename(session / "check" / "relu_s0")
    out = tmp_path / "summary"
    summary.main(["--runs", str(session), "--out", str(out), "--epochs", "10"])
    verdict = figure(json.loads((out / "summary.json").read_text()), "relu test error")["verdict"]
    assert verdict.startswith("not comparable: 10 of 40 epochs")
