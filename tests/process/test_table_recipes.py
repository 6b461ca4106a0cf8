"""A table is its experiment file, composed with the same overrides as its sweep: the part that needs real
processes (signals, exit codes, subprocesses); the in-process tests are
tests/unit/test_table_recipes.py."""

from __future__ import annotations

import subprocess

from crelu_repro.evidence.tables import table_names
from tests.helpers import REPO, train_env


def test_make_help_lists_every_table():
    help_ = ["make", "help"]
    proc = subprocess.run(help_, cwd=REPO, env=train_env(), capture_output=True, text=True, check=True)
    for name in table_names():
        assert f"make table-{name} " in proc.stdout
    assert "make table-params" in proc.stdout and "make tables" in proc.stdout
