"""Parameter counts, `python -m crelu_repro.params --write`: the part that needs real processes; the
in-process tests are tests/unit/test_params.py."""

import json
import subprocess
import sys


def test_markdown_table_writes_files(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "crelu_repro.params", "--write", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| allcnnb_crelu_conv1_7 | imagenet | 11.62M | 11.76M |" in out
    assert (tmp_path / "table_params.md").read_text() == out
    assert len(json.loads((tmp_path / "table_params.json").read_text())) == 25
