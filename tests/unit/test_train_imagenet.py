"""End to end (in-process) on a tiny ImageNet tree of real JPEGs: All-CNN-B trains on CPU, reports
single-crop and 10-patch top-1/top-5 and counts a corrupt file."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
from PIL import Image

from tests.helpers import IMAGENET_ARGS as ARGS
from tests.helpers import IMAGENET_WNIDS as WNIDS
from tests.helpers import train_in_process
from tests.helpers.imagenet import truncate


def test_allcnnb_trains_and_reports_ten_patch_errors(imagenet_root, tmp_path, caplog):
    root = tmp_path / "imagenet"
    shutil.copytree(imagenet_root, root)
    bad = root / "train" / WNIDS[1] / f"{WNIDS[1]}_2.JPEG"
    truncate(bad)
    for path, mode in (
        (root / "train" / WNIDS[0] / f"{WNIDS[0]}_1.JPEG", "L"),
        (root / "val" / WNIDS[2] / f"ILSVRC2012_val_{2}0000.JPEG", "CMYK"),
    ):
        Image.open(path).convert(mode).save(path, quality=90)  # grayscale and CMYK JPEGs: read as RGB
    with caplog.at_level(logging.WARNING, logger="crelu_repro"):
        train_in_process(*ARGS, "model=allcnnb_crelu_all_half", f"dataset.root={root}", out=tmp_path / "run")
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    for key in ("test_error", "test_error_top5", "test_error_10patch", "test_error_top5_10patch"):
        assert 0 <= result[key] <= 100, key
    assert result["test_error_top5"] <= result["test_error"]  # top-5 can only be easier
    assert result["unreadable_files"] == [str(bad)]
    assert bad.name in caplog.text  # the warning (in the log) names it
    scores = np.load(tmp_path / "run" / "test_scores.npy")
    assert scores.shape == (8, 4)
    assert np.load(tmp_path / "run" / "test_labels.npy").tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
