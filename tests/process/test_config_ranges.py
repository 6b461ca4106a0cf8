"""Every config value is range-checked at composition, before any data is read: the part that needs real
processes (signals, exit codes, subprocesses); the in-process tests are
tests/unit/test_config_ranges.py."""

from __future__ import annotations

from tests.helpers import TINY, run_train


def test_train_py_refuses_before_reading_data_or_training(tmp_path):
    """Today's traceback came after all training (result.json never written): now nothing runs at all."""
    run_dir = tmp_path / "run"
    proc = run_train(
        [*TINY, "dataset.root=/nonexistent", "eval.train_error_images=-5", f"hydra.run.dir={run_dir}"]
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "error: invalid configuration: eval.train_error_images=-5: must be an integer >= 0"
    )
    assert not run_dir.exists()  # no checkpoint, no log, no folder: not even the data was looked at
