"""`make plan TABLE=...`: a TABLE given but empty (`TABLE=`, or `TABLE='$(x)'`, which make expands to
nothing) is refused naming the tables, not taken for every table (real make processes; the command line's
refusals and the plan itself are in-process in tests/unit/test_plan.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crelu_repro.evidence.tables import table_names
from tests.helpers import REPO, one_line_error, train_env


@pytest.mark.parametrize("table", ["TABLE=", "TABLE=$(anything)"])
def test_make_plan_refuses_an_empty_table(tmp_path, table):
    venv = Path(sys.executable).parent.parent
    out = tmp_path / "results"
    cmd = ["make", "-o", f"{venv}/.installed-stamp", "plan", f"VENV={venv}", f"TABLES_OUT={out}", table]
    done = subprocess.run(cmd, cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=120)
    ours = "\n".join(ln for ln in done.stderr.splitlines() if not ln.startswith("make: "))  # not make's
    one_line_error(done.returncode, ours, "TABLE=) is empty", *table_names())
    assert done.returncode == 2 and not out.exists()
