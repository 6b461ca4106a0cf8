"""Bad input: one clear message, no traceback, a non-zero exit, and no earlier result overwritten."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import IMAGENET_ARGS, TINY, one_line_error, run_train
from tests.helpers import IMAGENET_WNIDS as WNIDS


@pytest.mark.parametrize(
    "args, expected",
    [
        (["model=resnet50"], "Could not find 'model/resnet50'"),
        (["trainer.bogus=1"], "unknown key 'trainer.bogus': trainer has epochs, batch_size"),
        (["trainer.epochs=abc"], "trainer.epochs"),
        (["trainer.device=tpu"], "auto, cpu, cuda"),
        (["dataset=mnist"], "Could not find 'dataset/mnist'"),
        (["trainer.batch_size=0"], "trainer.batch_size=0: must be an integer >= 1"),
        (
            ["dataset=imagenet", "model=allcnnb_relu", "dataset.root=/nonexistent"],
            "ImageNet not found at /nonexistent",
        ),
    ],
)
def test_bad_command_lines_give_one_clear_message(args, expected, tmp_path):
    device = [] if any(a.startswith("trainer.device=") for a in args) else ["trainer.device=cpu"]
    proc = run_train([*device, *args, f"hydra.run.dir={tmp_path}", "dataset.download=false"], timeout=120)
    assert proc.returncode != 0
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    if "Could not find" in expected:
        assert "Available options" in proc.stderr  # Hydra lists the valid choices


def test_missing_dataset_offline_says_where_to_put_it(tmp_path):
    empty = tmp_path / "nodata"
    proc = run_train(
        [*TINY, f"dataset.root={empty}", "dataset.download=false", f"hydra.run.dir={tmp_path / 'r'}"]
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "cifar-10-batches-py" in proc.stderr and str(empty) in proc.stderr


def test_truncated_data_file_is_a_clear_error(cifar_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(cifar_root / "cifar-10-batches-py", root / "cifar-10-batches-py")
    batch = root / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[: batch.stat().st_size // 2])
    proc = run_train([*TINY, f"dataset.root={root}", f"hydra.run.dir={tmp_path / 'r'}"])
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "data_batch_3" in proc.stderr


@pytest.mark.parametrize(
    "damage, message", [("empty class", "with no jpeg files"), ("no images", "no jpeg images")]
)
def test_broken_imagenet_trees_are_one_clear_error(imagenet_root, tmp_path, damage, message):
    root = tmp_path / "imagenet"
    shutil.copytree(imagenet_root, root)
    if damage == "empty class":
        for f in (root / "train" / WNIDS[2]).iterdir():
            f.unlink()
    else:
        for f in root.rglob("*.JPEG"):
            f.unlink()
    proc = run_train(
        [*IMAGENET_ARGS, "model=allcnnb_relu", f"dataset.root={root}", f"hydra.run.dir={tmp_path / 'run'}"]
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert message in proc.stderr.lower()


def test_an_unquoted_value_with_a_space_is_one_line_that_says_how_to_quote(tmp_path):
    """`python train.py dataset.root=my data` printed Hydra's four-line grammar error, exit 1 (the message and
    other grammar errors: tests/unit/test_config.py)."""
    run_dir = tmp_path / "run"
    proc = run_train([*TINY, "dataset.root=my", "data", f"hydra.run.dir={run_dir}"], timeout=120)
    assert proc.returncode == 2
    one_line_error(
        proc.returncode, proc.stderr, "cannot read the override 'data'", """'dataset.root="my data"'"""
    )
    assert not run_dir.exists()
