"""scripts/bench_step_parts.py (where a step's time goes) and scripts/bench_precision.py (fp32 beside bf16):
a tiny CPU run writes its report, and a bad input is one line, exit 2, with nothing made."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, one_line_error, train_env

TINY_DATA = ["dataset.limit_train=64", "dataset.limit_test=32"]


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "scripts" / name), *args]
    return subprocess.run(cmd, cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=300)


def test_step_parts_times_each_part_of_the_trainers_step_fresh_and_fixed_in_alternating_rounds(
    cifar_root, tmp_path
):
    out = tmp_path / "new" / "parts.md"  # its folder is made when the report is written
    sizes = ["--batch", "16", "--steps", "2", "--warmup", "1", "--rounds", "2"]
    args = ["--device", "cpu", "--data", str(cifar_root), "--models", "crelu_half", *sizes, "--out", str(out)]
    done = script("bench_step_parts.py", *args, *TINY_DATA)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [(r["round"], r["feed"]) for r in rows] == [(1, "fresh"), (1, "fixed"), (2, "fixed"), (2, "fresh")]
    parts = ("loader", "forward", "backward", "optimizer", "schedule_sums")
    for r in rows:
        assert r["model"] == "crelu_half" and r["precision"] == "fp32" and r["batch"] == 16
        assert all(r[p] >= 0 for p in parts) and r["forward"] > 0 and r["backward"] > 0
        assert r["step"] == pytest.approx(sum(r[p] for p in parts))
        assert r["img_s"] == pytest.approx(1000 * 16 / r["step"])
    text = out.read_text()
    assert "code `" in text and "bench_step_parts.py" in text and text.count("| crelu_half | fp32 |") == 5


@pytest.mark.parametrize("script_name", ["bench_step_parts.py", "bench_precision.py"])
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--models", "nope"], "unknown model 'nope'"),
        (["--data", "/nonexistent/data"], "CIFAR-10 not found"),
        (["--out", "A_FILE/report.md"], "is a file, not a directory"),
    ],
)
def test_a_bad_input_is_one_line_and_exit_2_with_nothing_made(cifar_root, tmp_path, script_name, args, said):
    (tmp_path / "A_FILE").write_text("not a folder")
    args = [a.replace("A_FILE", str(tmp_path / "A_FILE")) for a in args]
    defaults = {"--data": str(cifar_root), "--models": "crelu_half", "--out": str(tmp_path / "out" / "r.md")}
    given = dict(zip(args[::2], args[1::2], strict=True))
    flat = [x for k, v in {**defaults, **given}.items() for x in (k, v)]
    device = ["--device", "cpu"] if script_name == "bench_step_parts.py" else []
    done = script(script_name, *device, *flat)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    one_line_error(done.returncode, done.stderr, said)
    assert not (tmp_path / "out").exists()
