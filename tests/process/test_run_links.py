"""Nothing is written outside a run: the part that needs real processes (signals, exit codes,
subprocesses); the in-process tests are tests/unit/test_run_links.py."""

from __future__ import annotations

import shutil

from tests.helpers import TINY, run_train
from tests.unit.test_run_links import plant


def test_through_train_py_it_is_one_line(stopped_run, cifar_root, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped_run, run_dir, symlinks=True)
    target = plant(run_dir, ".lock", tmp_path / "outside")
    proc = run_train([*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {run_dir / '.lock'} is a symbolic link (to {target}); this file is only ever written in "
        "place, never through a link, so nothing outside its folder is touched. Remove the link and rerun."
    ]
    assert target.read_text() == "theirs\n"  # was truncated to "process N on host"
