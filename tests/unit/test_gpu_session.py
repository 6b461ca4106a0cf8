"""scripts/gpu_session.sh (`make gpu-session`), rehearsed on the CPU: a few small files where the caller
says, a table last, every step bounded by the time left; a timed-out or failed step keeps its log and the
rest go on; a stop signal ends the step in flight and still writes the summary; no `OUT` is read."""

from __future__ import annotations

import re

from tests.helpers import REPO


def test_no_script_reads_or_deletes_a_variable_named_out():
    """Remote runners preset OUT for their own return folder: our scripts use RUNS_DIR and SUMMARY_DIR."""
    uses = re.compile(r"\$\{?OUT\b|(^|[\s;])OUT=|environ\.get\(.OUT.|environ\[.OUT.\]|getenv\(.OUT.")
    sources = [*(REPO / "scripts").iterdir(), REPO / "Makefile"]
    found = [
        f"{p.name}: {ln}"
        for p in sources
        if p.is_file()
        for ln in p.read_text().splitlines()
        if uses.search(ln)
    ]
    assert found == []
    assert not any(
        "rm -rf" in ln for p in (REPO / "scripts").glob("*.sh") for ln in p.read_text().splitlines()
    )
