"""Bad models and sizes fail at composition, before any data is read or any folder made: the classifier
always outputs the class count, the network's shapes are traced at the dataset's image size (meta device),
values have upper bounds, one training step's memory is estimated, and a value the run would ignore is
refused. Each is one line naming the layer, the value or the number."""

from __future__ import annotations

from tests.helpers import TINY, run_train
from tests.unit.test_composition import CASES, NO_DATA


def test_through_train_py_one_line_and_no_run_directory(tmp_path):
    overrides, message = CASES["all-cnn-b on cifar"]
    proc = run_train([*TINY, *NO_DATA, *overrides, f"hydra.run.dir={tmp_path / 'run'}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()  # Hydra made it before the check; now nothing is made
