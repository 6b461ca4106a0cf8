"""claims.yaml covers every claim of the slides' results and discussion pages, in their own words: the part
that needs real processes (signals, exit codes, subprocesses); the in-process tests are
tests/unit/test_claims_data.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crelu_repro.evidence.claims import ClaimsError, load_claims
from tests.helpers import REPO, train_env


def test_a_broken_claims_file_is_one_message(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text(
        "claims:\n  - id: x\n    quote: q\n    slide: s\n    evidence:\n"
        "      - table: convpool\n        datasets: [cifar10]\n        metrics: [test_error]\n"
        "        compare: [[crelu, '<=', relu]]\n"
    )
    with pytest.raises(ClaimsError, match=r"expect '<=' must be one of < >"):
        load_claims(bad)
    bad.write_text(bad.read_text().replace("'<='", "'<'").replace("relu]]", "rleu]]"))
    with pytest.raises(ClaimsError, match=r"unknown model\(s\) rleu; valid: avr, crelu, crelu_half"):
        load_claims(bad)
    proc = subprocess.run(
        [sys.executable, "-m", "crelu_repro.evidence.claims", "--claims", str(bad), "--sweeps", str(tmp_path)]
        + ["--out", str(tmp_path / "out")],
        cwd=REPO,
        env=train_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "rleu" in proc.stderr and not (tmp_path / "out").exists()
