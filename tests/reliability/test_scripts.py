"""The GPU scripts and `make benchmark` never hide a failure: CPU rehearsals on the tiny CIFAR tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TINY, train_env, wait_for

CPU_RUN = " ".join(TINY[:-1])  # device, one epoch, small batches; the script names the model
BENCH_SMOKE = "--smoke --device cpu --threads 1 --batch-sizes 8 --imagenet-batch 2"


def script_env(data: Path, **knobs: str) -> dict:
    """The scripts' python is this one, importing this checkout (scripts/ is its sys.path[0])."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return train_env(PY=sys.executable, PYTHONPATH=path, CRELU_DATA=str(data), **knobs)


def gpu_check(data: Path, out: Path, result: Path, models: str) -> subprocess.CompletedProcess:
    env = script_env(
        data, OUT=str(out), RESULT=str(result), MODELS=models, SEEDS="0", EPOCHS="1", EXTRA=CPU_RUN
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


def gpu_bench(data: Path, tmp: Path, **knobs: str) -> subprocess.Popen:
    env = script_env(data, OUT=str(tmp / "out"), RESULT=str(tmp / "bench.md"), WORKERS="1", EXTRA=BENCH_SMOKE)
    cmd = ["bash", str(REPO / "scripts" / "gpu_bench.sh")]
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "start_new_session": True}
    return subprocess.Popen(cmd, cwd=REPO, env={**env, **knobs}, **kw)


def running(marker: str) -> bool:
    """Whether any process's command line holds `marker` (a path unique to this test)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                return True
        except OSError:  # it ended while we looked
            pass
    return False


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_gpu_bench_sigterm_stops_the_measurement_merges_and_exits_143(cifar_root, tmp_path):
    proc = gpu_bench(cifar_root, tmp_path)
    try:
        wait_for(tmp_path / "out" / "eager.log", proc, timeout=120)  # the first measurement finished
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(1)  # inside the second one
        sent = time.time()
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
        elapsed = time.time() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, stdout[-3000:]
    assert elapsed < 30, elapsed  # at once, not after the remaining measurements
    assert "SIGTERM" in stdout and "stopping eager" in stdout
    assert not (tmp_path / "out" / "b512-default.log").exists() and "== b512-default" not in stdout
    assert not running(str(tmp_path / "out" / "eager.md"))  # the measurement in flight was stopped
    merged = json.loads((tmp_path / "bench.json").read_text())
    assert [r["kind"] for r in merged["rows"]][0] == "pipeline"  # what finished was merged


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_gpu_bench_exit_status_says_whether_a_measurement_failed(cifar_root, tmp_path):
    # BUDGET_S=60: only the first measurement (the input pipelines, about 45 s expected) may start.
    clean = gpu_bench(cifar_root, tmp_path / "clean", BUDGET_S="60")
    stdout = clean.communicate(timeout=120)[0]
    assert clean.returncode == 0 and "== eager: skipped" in stdout, stdout[-3000:]
    assert json.loads((tmp_path / "clean" / "bench.json").read_text())["rows"][0]["kind"] == "pipeline"
    (tmp_path / "empty").mkdir()
    failing = gpu_bench(tmp_path / "empty", tmp_path / "failing", BUDGET_S="60")
    stdout = failing.communicate(timeout=120)[0]
    assert failing.returncode == 1, stdout[-3000:]
    assert "failed: pipeline (exit 2)" in stdout and "no measurement finished" in stdout


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
