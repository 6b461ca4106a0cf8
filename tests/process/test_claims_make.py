"""`make claims QUICK=1` after a QUICK ConvPool-CNN-C sweep (synthetic runs, one dataset failed): the
report, the JSON, the figures and the TensorBoard events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crelu_repro.core import files
from crelu_repro.evidence.claims.plots import to_tensorboard
from tests.helpers import REPO, train_env
from tests.helpers.claims import planned, write_runs

FIELDS = {
    "id",
    "claim",
    "table",
    "dataset",
    "metric",
    "left",
    "right",
    "expect",
    "verdict",
    "effect",
    "ci",
    "n_left",
    "n_right",
    "paper_effect",
}


def make_claims(sweeps: Path, out: Path) -> subprocess.CompletedProcess:
    """`make claims QUICK=1` with this interpreter's environment (never reinstalling it) and our paths."""
    venv = Path(sys.executable).parent.parent
    cmd = [
        "make",
        "-o",
        f"{venv}/.installed-stamp",
        "claims",
        "QUICK=1",
        f"VENV={venv}",
        f"SWEEPS={sweeps}",
        f"TABLES_OUT={out}",
    ]
    return subprocess.run(cmd, cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=300)


def test_make_claims_quick_writes_report_json_and_figures(tmp_path):
    sweeps, out = tmp_path / "multirun" / "quick", tmp_path / "results" / "quick"
    for model, errors in {
        "relu": [60.0, 62.0],
        "avr": [61.0, 63.0],
        "crelu": [55.0, 58.0],
        "crelu_half": [64.0, 66.0],
        "double": [59.0, 61.0],
    }.items():
        write_runs(sweeps, "convpool", model, "cifar10", errors, quick=True)
    failed = planned(sweeps, "convpool", "relu", "cifar100", 0, quick=True).path
    failed.mkdir(parents=True)
    files.write_json(failed / "error.json", {"error": "DatasetError: no CIFAR-100 files under /data"})
    proc = make_claims(sweeps, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    report = (out / "claims.md").read_text()
    assert "QUICK smoke run" in report and "mean nothing" in report
    assert "DatasetError: no CIFAR-100 files" in report  # the failed run is listed
    checks = json.loads((out / "claims.json").read_text())
    assert isinstance(checks, list) and all(set(c) >= FIELDS for c in checks)
    assert len({c["id"] for c in checks}) == len(checks)
    by_id = {c["id"]: c for c in checks}
    ours = by_id["convpool_crelu:cifar10:test_error:crelu<relu"]
    assert ours["effect"] == -4.5 and ours["n_left"] == ours["n_right"] == 2 and ours["ci"] is not None
    assert ours["verdict"] in ("reproduced", "inconclusive")  # two runs a side: a wide interval
    gone = by_id["convpool_crelu:cifar100:test_error:crelu<relu"]
    assert gone["verdict"] == "not run" and gone["make"] == "make table-convpool QUICK=1"
    assert {c["verdict"] for c in checks if c["table"] != "convpool"} == {"not run"}
    placed = by_id[
        "invariance_placement:cifar10:test_error:suggested<crelu"
    ]  # needs the figure, then the table
    assert placed["make"] == "make table-convpool QUICK=1; make figures QUICK=1; make table-placement QUICK=1"
    for png in [
        "claims.png",
        *(f"tables/{t}.png" for t in ("convpool", "vgg", "regularization", "imagenet")),
    ]:
        assert (out / "figures" / png).read_bytes()[:4] == b"\x89PNG", png
    events = list((sweeps / "claims").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 10_000  # the images and the report
    to_tensorboard(sweeps / "claims", {"forest": out / "figures" / "claims.png"}, "rerun")  # as a rerun does
    assert len(list((sweeps / "claims").glob("events.out.tfevents.*"))) == 1  # replaced, not added to
