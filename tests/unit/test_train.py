"""The trainer's logic, in-process (`train(cfg)` on the composed config): outputs, k-fold, skipping a finished
run, refusing another configuration's directory, variants given on the command line. Signals, exit codes,
SIGKILL and torchrun are tested on real processes under tests/process/."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.results import Result, read_result
from crelu_repro.models import load_variant
from crelu_repro.models.variants import network


def test_outputs_of_a_cifar10_run(finished_run):
    result = read_result(finished_run)
    assert (result.model, result.dataset, result.epochs, result.num_test) == ("crelu_half", "cifar10", 2, 64)
    assert 0 <= result.test_error <= 100 and result.images_per_s > 0 and result.code_version
    assert result.config["trainer"]["batch_size"] == 32 and len(result.history) == 2
    assert result.data_fingerprint["kind"] == "cifar10"  # what the data was, beside the config
    # The identity holds the network crelu_half builds (not its name), and no paths.
    assert result.identity["model"] == network(load_variant("crelu_half"))
    assert "root" not in result.identity["dataset"] and "models" not in result.identity["eval"]
    scores = np.load(finished_run / "test_scores.npy")
    assert scores.dtype == np.float16 and scores.shape == (64, 10)
    np.testing.assert_allclose(scores.astype(np.float32).sum(1), 1.0, atol=5e-3)
    # The saved scores are the model's test predictions: their error is the reported test error.
    labels = np.load(finished_run / "test_labels.npy")
    assert 100 * np.mean(scores.argmax(1) != labels) == pytest.approx(result.test_error, abs=1e-6)
    assert (finished_run / "checkpoint.pt").exists() and any((finished_run / "tb").iterdir())
    assert "overrides" not in json.loads(
        (finished_run / "result.json").read_text()
    )  # the declared fields only
    assert set(json.loads((finished_run / "result.json").read_text())) == set(Result.__dataclass_fields__)


def test_cifar100_run_and_kfold_validation(cifar_train, tmp_path):
    result = cifar_train("dataset=cifar100", "eval=kfold", "eval.fold=3")
    assert (result["protocol"], result["fold"], result["num_train"], result["num_val"]) == (
        "kfold",
        3,
        115,
        13,
    )
    assert result["val_error"] is not None
    assert np.load(tmp_path / "run" / "test_scores.npy").shape == (64, 100)


def test_a_finished_run_is_skipped_and_nothing_is_rewritten(finished_run, cifar_root):
    from tests.helpers import TINY, train_in_process

    before = {p.name: p.stat().st_mtime_ns for p in finished_run.iterdir()}
    again = train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=finished_run)
    assert again["skipped"] and again["test_error"] == read_result(finished_run).test_error
    assert {p.name: p.stat().st_mtime_ns for p in finished_run.iterdir()} == before


def test_another_configuration_is_refused_with_the_differing_keys(finished_run, cifar_root):
    from tests.helpers import TINY, train_in_process

    before = (finished_run / "result.json").read_text()
    with pytest.raises(ConfigError, match="trainer.epochs: 2 -> 3"):
        train_in_process(*TINY, "trainer.epochs=3", f"dataset.root={cifar_root}", out=finished_run)
    assert (finished_run / "result.json").read_text() == before


def test_a_variant_given_on_the_command_line_trains_and_says_what_it_is(cifar_train, tmp_path):
    result = cifar_train("model=relu", "model.acts={conv1-4: crelu}")
    assert result["model"] == "relu+crelu@conv1-4"
    assert result["config"]["model"]["acts"] == {"conv1-4": "crelu"}
    weights = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert weights["layers.conv5.conv.weight"].shape[1] == 192 * 2  # conv4's CReLU doubled conv5's input
