"""Bad dataset input gives one clear DatasetError that says what to do: malformed CIFAR labels, files and
folders we may not read (permission denied: fix the permissions, never "delete it"), and JPEG
decompression bombs (counted as unreadable, with the reason, and never decoded).

Permission tests: this sandbox and CI run as root, which `chmod 000` does not stop, so the denial is made
in-process instead: the OS call that a real unreadable file or folder fails (open, os.stat, os.scandir,
np.fromfile) is patched to raise PermissionError(EACCES) for that path, as the kernel would.
"""

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
