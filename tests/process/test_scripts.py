"""The GPU check script and `make benchmark` never hide a failure: CPU rehearsals on the tiny CIFAR tree (the
GPU session's own tests: test_gpu_session.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, TINY, train_env

CPU_RUN = " ".join(TINY[:-1])  # device, one epoch, small batches; the script names the model


def script_env(data: Path, **knobs: str) -> dict:
    """The scripts' python is this one, importing this checkout (scripts/ is its sys.path[0])."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return train_env(PY=sys.executable, PYTHONPATH=path, CRELU_DATA=str(data), **knobs)


def gpu_check(data: Path, out: Path, result: Path, models: str) -> subprocess.CompletedProcess:
    env = script_env(
        data, RUNS_DIR=str(out), RESULT=str(result), MODELS=models, SEEDS="0", EPOCHS="1", EXTRA=CPU_RUN
    )
    cmd = ["bash", str(REPO / "scripts" / "gpu_check.sh")]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_gpu_check_keeps_a_failed_runs_log_shows_its_tail_and_exits_non_zero(cifar_root, tmp_path):
    out, md = tmp_path / "out", tmp_path / "gpu_check.md"
    proc = gpu_check(cifar_root, out, md, models="crelu_half no_such_model")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (out / "no_such_model_s0.log").read_text()
    assert "Could not find 'model/no_such_model'" in log  # the whole output, not a filtered line
    assert log.strip().splitlines()[-1] in proc.stdout  # its tail is shown
    summary = proc.stdout.rsplit("problem(s)", 1)[-1]
    assert "no_such_model_s0: exit 1" in summary and "crelu_half_s0" not in summary
    assert (out / "crelu_half_s0.log").exists()
    assert "| crelu_half | cifar10 | 0 | 1 |" in md.read_text()  # the finished run is still tabulated


def test_gpu_check_rehearsal_writes_the_table_where_told_and_exits_zero(cifar_root, tmp_path):
    committed = REPO / "results" / "gpu_check.md"
    before = committed.read_text() if committed.exists() else None
    md = tmp_path / "rehearsal.md"
    proc = gpu_check(cifar_root, tmp_path / "out", md, models="crelu_half")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| crelu_half | cifar10 | 0 | 1 |" in md.read_text() and "every run finished" in proc.stdout
    assert (committed.read_text() if committed.exists() else None) == before


def test_make_benchmark_without_data_is_one_line_and_exit_2(tmp_path):
    # make's own recipe, with this python and without (re)creating the virtual environment
    cmd = [
        "make",
        "-s",
        "benchmark",
        f"PY={sys.executable}",
        "-o",
        ".venv/.installed-stamp",
        "ARGS=--device cpu",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=script_env(tmp_path / "nowhere"), capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    ours = [ln for ln in proc.stderr.splitlines() if not ln.startswith("make")]  # make adds "make: *** ..."
    assert len(ours) == 1 and ours[0].startswith("error: CIFAR-10 not found: "), proc.stderr
    assert str(tmp_path / "nowhere") in ours[0] and "--data DIR or CRELU_DATA" in ours[0]
