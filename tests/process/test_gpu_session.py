"""scripts/gpu_session.sh (`make gpu-session`), rehearsed on the CPU: the part that needs real processes
(signals, exit codes, subprocesses); the in-process tests are tests/unit/test_gpu_session.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, one_line_error, wait_for
from tests.process.test_scripts import script_env

FILES = ["benchmarks.json", "benchmarks.md", "env.txt", "logs.tar.gz", "summary.json", "summary.md"]


SESSION = ["env", "pipeline", "eager", "imagenet", "check-relu", "check-crelu", "det", "allcnnb-compute",
           "b512-default", "b128-reduce-overhead"]  # fmt: skip


def session(data: Path, tmp: Path, **knobs: str) -> subprocess.Popen:
    env = script_env(
        data, REHEARSAL="1", SUMMARY_DIR=str(tmp / "summary"), RUNS_DIR=str(tmp / "runs"), **knobs
    )
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "start_new_session": True}
    return subprocess.Popen(["bash", str(REPO / "scripts" / "gpu_session.sh")], cwd=REPO, env=env, **kw)


def running(marker: str) -> bool:
    """Whether any process's command line holds `marker` (a path unique to this test)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                return True
        except OSError:  # it ended while we looked
            pass
    return False


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    try:
        return proc.communicate(timeout=timeout)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def steps(tmp: Path) -> dict[str, str]:
    lines = (tmp / "runs" / "steps.tsv").read_text().splitlines()
    return {ln.split("\t")[0]: ln.split("\t")[1] for ln in lines}


def assert_small_files(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert names == FILES and len(names) <= 8, names
    assert all((folder / n).stat().st_size < 1_000_000 for n in names)


def assert_table_last(stdout: str) -> None:
    tail = stdout.rstrip().split("\n\n")[-1].splitlines()
    assert tail[0] == "| figure | measured | target | verdict |" and all(ln.startswith("|") for ln in tail)
    assert any("GPU crelu b512 bf16" in ln and ">= 75,000 img/s and >= 3.7x naive" in ln for ln in tail)


def test_make_rehearsal_with_a_tiny_budget_writes_six_small_files_and_the_table_last(cifar_root, tmp_path):
    """As CI runs it: `make gpu-session-rehearsal` with a 45-second budget. Whatever fits runs, the rest is
    skipped; a preset OUT folder is neither read nor touched; results/ stays as it was."""
    preset = tmp_path / "OUT"
    preset.mkdir()
    (preset / "theirs.txt").write_text("the runner's own file")
    before = {p: p.stat().st_mtime_ns for p in (REPO / "results").rglob("*") if p.is_file()}
    summary, runs = tmp_path / "summary", tmp_path / "runs"
    cmd = ["make", "-s", "gpu-session-rehearsal", f"PY={sys.executable}", "-o", ".venv/.installed-stamp",
           "BUDGET_S=45", f"SUMMARY_DIR={summary}", f"RUNS_DIR={runs}"]  # fmt: skip
    env = script_env(cifar_root, OUT=str(preset))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    status = steps(tmp_path)
    assert list(status) == SESSION and status["env"] == "ok", status
    # What fits runs, the rest is skipped; on a loaded CPU a step may also run out of its time (then exit 1).
    assert set(status.values()) <= {"ok", "skipped", "timed out"} and "skipped" in status.values(), status
    timed_out = "timed out" in status.values()
    assert (proc.returncode != 0) == timed_out, proc.stdout[-3000:] + proc.stderr[-3000:]  # make says 2
    assert_small_files(summary)
    assert_table_last(proc.stdout)
    with tarfile.open(summary / "logs.tar.gz") as tar:
        assert "logs/env.log" in tar.getnames() and "steps.tsv" in tar.getnames()
    info = json.loads((summary / "summary.json").read_text())
    assert info["budget_s"] == 45 and [s["step"] for s in info["steps"]] == SESSION
    assert [p.name for p in preset.iterdir()] == ["theirs.txt"]
    assert {p: p.stat().st_mtime_ns for p in (REPO / "results").rglob("*") if p.is_file()} == before


def test_a_timed_out_step_keeps_its_log_and_the_rest_run(cifar_root, tmp_path):
    proc = session(cifar_root, tmp_path, STEPS="eager env", STEP_LIMIT_S="3")
    stdout = finish(proc)
    assert proc.returncode == 1, stdout[-3000:]
    status = steps(tmp_path)
    assert status["eager"] == "timed out" and "env" in status, status  # the next step still ran
    assert (tmp_path / "runs" / "logs" / "eager.log").exists()
    assert "eager | timed out" in (tmp_path / "summary" / "summary.md").read_text()
    assert_small_files(tmp_path / "summary")
    assert_table_last(stdout)


def test_a_failing_step_is_recorded_and_the_exit_status_is_1(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = session(tmp_path / "empty", tmp_path, STEPS="pipeline no-such-step")
    stdout = finish(proc)
    assert proc.returncode == 1, stdout[-3000:]
    assert steps(tmp_path) == {"pipeline": "failed", "no-such-step": "failed"}
    assert "error: CIFAR-10 not found" in stdout  # the failed step's last lines are shown
    assert_small_files(tmp_path / "summary")
    assert "No benchmark step finished a row." in (tmp_path / "summary" / "benchmarks.md").read_text()


def test_runs_dir_must_be_new_or_empty(cifar_root, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "earlier.txt").write_text("kept")
    proc = session(cifar_root, tmp_path, STEPS="env")
    stdout = finish(proc)
    line = f"error: RUNS_DIR={tmp_path / 'runs'} is not empty; give a new or empty folder"
    assert proc.returncode == 2 and stdout.strip().splitlines() == [line + " (nothing here deletes files)"]
    assert (tmp_path / "runs" / "earlier.txt").read_text() == "kept" and not (tmp_path / "summary").exists()


@pytest.mark.parametrize(
    "knobs, message",
    [
        ({"BUDGET_S": "abc"}, "BUDGET_S=abc: give the session's seconds, a whole number >= 0"),
        ({"BUDGET_S": "0"}, "BUDGET_S=0 leaves no time for any step"),  # exited 0, every step "not run"
        ({"BUDGET_S": "50", "STEPS": "eager"}, "shortest step needs about 45s); give BUDGET_S=60 or more"),
        ({"STEP_LIMIT_S": "-1"}, "STEP_LIMIT_S=-1: give the most seconds one step may run"),
        ({"EPOCHS": "1.5"}, "EPOCHS=1.5: give the accuracy checks' epochs, a whole number >= 1"),
        ({"WORKERS": "many"}, "WORKERS=many: give the naive loader's worker processes"),
    ],
    ids=["budget-text", "budget-zero", "budget-below-the-steps", "step-limit", "epochs", "workers"],
)
def test_a_bad_knob_is_one_line_before_anything_is_made(cifar_root, tmp_path, knobs, message):
    """`BUDGET_S=abc` printed "abc: unbound variable" in every step, ended on an argparse usage error and
    left a runs folder in $TMPDIR; `BUDGET_S=0` exited 0 having run nothing."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = script_env(
        cifar_root, REHEARSAL="1", SUMMARY_DIR=str(tmp_path / "summary"), TMPDIR=str(tmp), **knobs
    )
    cmd = ["bash", str(REPO / "scripts" / "gpu_session.sh")]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    one_line_error(proc.returncode, proc.stderr, message)
    assert list(tmp.iterdir()) == [] and not (tmp_path / "summary").exists()  # no runs folder, no summary


@pytest.mark.slow  # the whole session on the CPU, about 2.5 minutes: in `make test-slow` (CI runs both)
def test_the_whole_rehearsal_runs_every_step(cifar_root, tmp_path):
    proc = session(cifar_root, tmp_path, BUDGET_S="900")
    stdout = finish(proc, timeout=900)
    assert proc.returncode == 0, stdout[-3000:]
    assert steps(tmp_path) == dict.fromkeys(SESSION, "ok")
    info = json.loads((tmp_path / "summary" / "summary.json").read_text())
    assert info["determinism"]["verdict"] == "met"  # the two deterministic runs agree to the bit
    assert [a["verdict"].split(":")[0] for a in info["accuracy"]] == ["not comparable"] * 2  # 1 epoch, not 40
    kinds = {r["kind"] for r in json.loads((tmp_path / "summary" / "benchmarks.json").read_text())["rows"]}
    assert kinds == {"pipeline", "train", "compute"}
    assert all(p["by"].startswith("not exercised (CPU rehearsal") for p in info["paths"])
    assert_small_files(tmp_path / "summary")
    assert_table_last(stdout)


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_sigterm_stops_the_step_in_flight_and_writes_the_summary(cifar_root, tmp_path):
    proc = session(cifar_root, tmp_path, STEPS="pipeline eager b512-default")
    try:
        wait_for(tmp_path / "runs" / "logs" / "eager.log", proc, timeout=120)  # the first step finished
        assert proc.poll() is None
        time.sleep(1)  # inside the second one
        sent = time.time()
        proc.send_signal(signal.SIGTERM)
        stdout = finish(proc, timeout=60)
        elapsed = time.time() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, stdout[-3000:]
    assert elapsed < 30, elapsed  # at once, not after the remaining steps
    assert "SIGTERM" in stdout and "stopping eager" in stdout and "== b512-default" not in stdout
    assert not running(str(tmp_path / "runs" / "bench" / "eager.md"))  # the step in flight was stopped
    assert steps(tmp_path) == {"pipeline": "ok", "eager": "stopped (SIGTERM)"}
    merged = json.loads((tmp_path / "summary" / "benchmarks.json").read_text())
    assert [r["kind"] for r in merged["rows"]][0] == "pipeline"  # what finished is summarized
    assert_small_files(tmp_path / "summary")
