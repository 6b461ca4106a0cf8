"""params, tables and claims: a file where a folder belongs, or a folder that is missing, is one message, not
a traceback: the part that needs real processes (exit statuses); the in-process tests are
tests/unit/test_cli_paths.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import REPO, one_line_error, train_env


def cli(module: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", f"crelu_repro.{module}", *args]
    return subprocess.run(cmd, cwd=REPO, env=train_env(), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "module, args, named",
    [
        ("params", ["--write", "{file}"], ["--write", "is a file"]),
        (
            "evidence.tables",
            ["convpool", "--sweep-dir", "{file}"],
            ["--sweep-dir", "is a file", "make table-convpool"],
        ),
        ("evidence.claims", ["--sweeps", "{missing}", "--quick"], ["--sweeps", "does not exist", "QUICK=1"]),
    ],
)
def test_each_command_exits_non_zero_with_one_line(module, args, named, tmp_path):
    """One real process per command: the exit status and the lone stderr line (the cases are in-process in
    tests/unit/test_cli_paths.py). The claims case exited 0 with every verdict "not run"."""
    (tmp_path / "a_file").write_text("keep me\n")
    where = {"file": tmp_path / "a_file", "missing": tmp_path / "none"}
    proc = cli(module, *[a.format(**where) for a in args])
    assert proc.returncode == 2
    one_line_error(proc.returncode, proc.stderr, *named)
    assert (tmp_path / "a_file").read_text() == "keep me\n" and not (tmp_path / "none").exists()


def test_claims_refuses_a_link_at_out_with_one_line(tmp_path):
    """`python -m crelu_repro.evidence.claims --out <a link to a folder>` wrote through the link (exit 0). The
    other commands' links are in-process in tests/unit/test_cli_paths.py."""
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    proc = cli(
        "evidence.claims", "--sweeps", str(tmp_path / "sweeps"), "--out", str(tmp_path / "out"), "--no-tb"
    )
    assert proc.returncode == 2
    one_line_error(proc.returncode, proc.stderr, f"--out {tmp_path / 'out'} is a symbolic link")
    assert list((tmp_path / "elsewhere").iterdir()) == [] and list((tmp_path / "sweeps").iterdir()) == []
