"""The discussion-section analyses: the part that needs real processes (signals, exit codes, subprocesses);
the in-process tests are tests/unit/test_analysis.py."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import REPO, train_env


def test_cli_refuses_a_directory_that_is_not_a_finished_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "crelu_repro.evidence.analysis", "pairing", str(tmp_path)],
        cwd=REPO,
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "not a finished run" in proc.stderr
