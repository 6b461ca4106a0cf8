"""The run's TensorBoard output: read back from its event files, and served by a real `tensorboard`."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

EPOCH_TAGS = ["train/loss", "train/error_running", "test/error", "lr", "throughput/images_per_s"]
FINAL_TAGS = ["hparam/test_error", "hparam/train_error"]
HPARAMS_TAGS = {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}


def load_events(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return acc


def test_event_files_hold_per_epoch_scalars_and_hparams(finished_run):
    acc = load_events(finished_run)
    result = json.loads((finished_run / "result.json").read_text())
    tags = set(acc.Tags()["scalars"])
    assert set(EPOCH_TAGS + FINAL_TAGS) <= tags
    assert "val/error" not in tags  # only eval.protocol=kfold holds out a validation split
    for tag in EPOCH_TAGS:
        values = [e.value for e in acc.Scalars(tag)]
        assert [e.step for e in acc.Scalars(tag)] == [1, 2], tag
        assert all(math.isfinite(v) for v in values), (tag, values)
    assert all(0 <= e.value <= 100 for e in acc.Scalars("test/error"))
    train_loss = [e.value for e in acc.Scalars("train/loss")]
    assert train_loss == pytest.approx([h["train_loss"] for h in result["history"]], rel=1e-6)
    for tag in FINAL_TAGS:
        [final] = acc.Scalars(tag)
        assert final.value == pytest.approx(result[tag.removeprefix("hparam/")], rel=1e-6)

    content = acc.PluginTagToContent("hparams")
    assert set(content) == HPARAMS_TAGS
    parse = plugin_data_pb2.HParamsPluginData.FromString
    experiment = parse(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == set(FINAL_TAGS)
    start = parse(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model"].string_value == result["model"]
    assert start.hparams["epochs"].number_value == result["epochs"] == 2


def test_a_sweep_layout_is_written_only_where_runs_are(tmp_path, finished_run):
    """`make tensorboard TABLE=claims` must not plant the runs' charts in a folder that holds none."""
    from crelu_repro.train import dashboard

    (tmp_path / "claims").mkdir()
    assert dashboard.main([str(tmp_path / "claims")]) == 0 and not (tmp_path / "claims" / "_layout").exists()
    assert dashboard.main([str(tmp_path / "missing")]) == 2
    shutil.copytree(finished_run, tmp_path / "sweep" / "run")
    assert dashboard.main([str(tmp_path / "sweep")]) == 0 and (tmp_path / "sweep" / "_layout").is_dir()
