"""In-process: what a run checks before its folder is made (run/checks.py), and that a complete run needs
no data to be skipped. The exit statuses through train.py: tests/process/test_refused_before_folder.py."""

from __future__ import annotations

import shutil

import pytest

from crelu_repro.core.errors import ConfigError, DatasetError
from crelu_repro.run.checks import check_data, validate
from tests.helpers import TINY


def test_a_device_this_machine_lacks_is_a_config_error(composer, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    cfg = composer(*TINY[1:], "trainer.device=cuda", "seed=21")
    with pytest.raises(ConfigError, match="trainer.device=cuda, but CUDA is not available"):
        validate(cfg)


def test_a_data_root_that_is_a_file_is_named(composer, tmp_path):
    (tmp_path / "f").write_text("x")
    cfg = composer(*TINY, f"dataset.root={tmp_path / 'f'}")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        check_data(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("dataset", ["cifar10", "imagenet"])
def test_missing_data_is_said_before_any_folder(composer, tmp_path, dataset):
    model = "allcnnb_relu" if dataset == "imagenet" else "crelu_half"
    cfg = composer(*TINY[:-1], f"model={model}", f"dataset={dataset}", f"dataset.root={tmp_path / 'none'}",
                   "dataset.download=false")  # fmt: skip
    with pytest.raises(DatasetError, match="not found"):
        check_data(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_complete_run_is_skipped_without_its_data(finished_run, cifar_train, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    result = cifar_train("trainer.epochs=2", "dataset.root=/nonexistent/data", out=run)
    assert result["skipped"] is True
