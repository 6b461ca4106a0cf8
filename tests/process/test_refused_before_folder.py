"""A run that cannot start leaves nothing behind (issue 27, items 4 and 5): a device this machine lacks, a
data root that is a file, data missing offline. Each is one line and exit 2 from `python train.py`, before
Hydra makes the run's folder. In-process twins: tests/unit/test_refused_before_folder.py."""

from __future__ import annotations

import pytest

from tests.helpers import TINY, one_line_error, run_train


@pytest.mark.parametrize(
    "case, named",
    [
        ("device", ["trainer.device=cuda", "CUDA is not available"]),
        ("root is a file", ["is a file, not a folder"]),
        ("missing offline", ["CIFAR-10 not found", "dataset.download=true"]),
    ],
)
def test_a_run_that_cannot_start_makes_no_folder(case, named, cifar_root, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a dataset\n")
    args = {
        "device": [f"dataset.root={cifar_root}", "trainer.device=cuda"],  # (train_env hides any GPU)
        "root is a file": [f"dataset.root={a_file}"],
        "missing offline": [f"dataset.root={tmp_path / 'nodata'}", "dataset.download=false"],
    }[case]
    run = tmp_path / "outputs" / "run"
    proc = run_train([*TINY, *args, f"hydra.run.dir={run}"], timeout=120)
    assert proc.returncode == 2
    one_line_error(proc.returncode, proc.stderr, *named)
    assert not run.exists() and not (tmp_path / "outputs").exists()
