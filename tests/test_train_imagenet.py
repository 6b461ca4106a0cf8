"""End to end on a tiny ImageNet tree of real JPEGs: All-CNN-B trains on CPU, reports single-crop and
10-patch top-1/top-5, counts a corrupt file; bad trees give one clear error."""

from __future__ import annotations

import json
import shutil

import numpy as np
from conftest import IMAGENET_ARGS as ARGS
from conftest import IMAGENET_WNIDS as WNIDS
from conftest import run_train
from imagenet_fixture import truncate
from PIL import Image


def test_allcnnb_trains_and_reports_ten_patch_errors(imagenet_root, tmp_path):
    root = tmp_path / "imagenet"
    shutil.copytree(imagenet_root, root)
    bad = root / "train" / WNIDS[1] / f"{WNIDS[1]}_2.JPEG"
    truncate(bad)
    for path, mode in (
        (root / "train" / WNIDS[0] / f"{WNIDS[0]}_1.JPEG", "L"),
        (root / "val" / WNIDS[2] / f"ILSVRC2012_val_{2}0000.JPEG", "CMYK"),
    ):
        Image.open(path).convert(mode).save(path, quality=90)  # grayscale and CMYK JPEGs: read as RGB
    proc = run_train(
        [*ARGS, "model=allcnnb_crelu_all_half", f"dataset.root={root}", f"hydra.run.dir={tmp_path / 'run'}"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    for key in ("test_error", "test_error_top5", "test_error_10patch", "test_error_top5_10patch"):
        assert 0 <= result[key] <= 100, key
    assert result["test_error_top5"] <= result["test_error"]  # top-5 can only be easier
    assert result["unreadable_files"] == [str(bad)]
    assert bad.name in proc.stdout + proc.stderr  # the warning (in the log) names it
    scores = np.load(tmp_path / "run" / "test_scores.npy")
    assert scores.shape == (8, 4)
    assert np.load(tmp_path / "run" / "test_labels.npy").tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
