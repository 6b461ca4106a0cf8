"""Bad dataset input gives one clear DatasetError that says what to do: the part that needs real processes
(signals, exit codes, subprocesses); the in-process tests are tests/unit/test_data_inputs.py."""

from __future__ import annotations

import pytest

from tests.helpers import TINY, run_train
from tests.helpers.cifar import write_cifar
from tests.unit.test_data_inputs import MALFORMED, RAGGED, _set_labels

pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding:DeprecationWarning",  # torchvision 0.29's JPEG decoders
    "ignore:.*not the official:UserWarning",  # the tiny fixtures are not the official CIFAR release
)


def test_ragged_labels_through_train_py_are_one_line(tmp_path):
    folder = write_cifar(tmp_path / "data", n_train=20, n_test=10)
    _set_labels(folder, "test_batch", RAGGED["ragged"](10))
    proc = run_train([*TINY, f"dataset.root={tmp_path / 'data'}", f"hydra.run.dir={tmp_path / 'run'}"])
    assert proc.returncode != 0 and "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "test_batch" in lines[0] and MALFORMED in lines[0], proc.stderr
