"""ImageNet trees with odd files: a dangling link is skipped as unreadable (not a whole-scan abort), a class
folder of PNGs is said to have no JPEG files (not to be "empty"), and unreadable reasons read as reasons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from crelu_repro.core.errors import DatasetError
from crelu_repro.data.imagenet import read_imagenet
from crelu_repro.data.imagenet.jpeg import decode_cpu
from crelu_repro.data.imagenet.loader import ImageNetLoader, scan_imagenet
from tests.helpers.imagenet import WNIDS, class_image, write_imagenet

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


def test_a_dangling_jpeg_link_is_skipped_as_unreadable(tmp_path):
    """It aborted the whole scan: "ImageNet: could not read ... (No such file or directory)"."""
    root = write_imagenet(tmp_path / "imagenet", per_class=2, val_per_class=1)
    link = root / "train" / WNIDS[1] / "gone.JPEG"
    link.symlink_to(tmp_path / "deleted.JPEG")
    files = scan_imagenet(root)
    assert files.skipped == {str(link): "a symbolic link to a missing file"}
    assert str(link) not in files.train.paths and len(files.train) == 6
    assert files.fingerprint == scan_imagenet(write_imagenet(tmp_path / "clean", 2, 1)).fingerprint
    dataset = OmegaConf.create({"root": str(root), "limit_train": 0, "limit_test": 0})
    assert read_imagenet(dataset).warnings == [  # recorded in the result's dataset_warnings
        f"ImageNet: {link} skipped while scanning: a symbolic link to a missing file"
    ]


def test_a_class_folder_of_pngs_has_no_jpeg_files(tmp_path):
    root = write_imagenet(tmp_path, per_class=2, val_per_class=1)
    folder = root / "train" / WNIDS[2]
    for f in folder.iterdir():
        f.unlink()
    for i in range(3):
        class_image(2, 40, 30, seed=i).save(folder / f"{i}.png")
    with pytest.raises(DatasetError) as err:
        scan_imagenet(root)
    assert str(err.value) == (
        f"ImageNet: class folder(s) with no JPEG files: {folder} (holds 3 other file(s), e.g. 0.png). Put "
        "the class's JPEGs (.JPEG, .jpg) there or remove the folder"
    )


def test_an_unreadable_reason_never_shows_an_object_repr(tmp_path):
    """PIL's "cannot identify image file <_io.BytesIO object at 0x7f...>" reached the reasons listed."""
    image, why = decode_cpu(np.frombuffer(b"this is not an image at all" * 10, dtype=np.uint8).copy())
    assert image is None and why == "not an image (neither libjpeg nor PIL recognizes its format)"
    split = scan_imagenet(write_imagenet(tmp_path, per_class=2, val_per_class=1)).train
    with open(split.paths[1], "wb") as f:
        f.write(b"GIF89a not really" * 40)
    loader = ImageNetLoader(split.paths, split.labels, torch.device("cpu"), num_workers=0, train=False)
    assert sum(len(y) for _, y in loader.eval_batches(3)) == 5
    (reason,) = loader.unreadable_reasons.values()
    assert "object at 0x" not in reason and reason.startswith("not "), reason
