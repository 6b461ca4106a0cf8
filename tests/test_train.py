"""End-to-end CPU runs of train.py on tiny canonical CIFAR trees: outputs, resume, bad inputs."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest
from conftest import TINY, run_train, start_train, wait_for

from crelu_repro.results import deterministic_part


def test_outputs_of_a_cifar10_run(finished_run):
    result = json.loads((finished_run / "result.json").read_text())
    for key in (
        "model",
        "dataset",
        "protocol",
        "seed",
        "fold",
        "epochs",
        "params",
        "train_error",
        "val_error",
        "test_error",
        "wall_s",
        "images_per_s",
        "config",
        "code_version",
    ):
        assert key in result, key
    assert (result["model"], result["dataset"], result["epochs"], result["num_test"]) == (
        "crelu_half",
        "cifar10",
        2,
        64,
    )
    assert 0 <= result["test_error"] <= 100 and result["images_per_s"] > 0
    assert result["config"]["trainer"]["batch_size"] == 32 and result["code_version"]
    scores = np.load(finished_run / "test_scores.npy")
    assert scores.dtype == np.float16 and scores.shape == (64, 10)
    np.testing.assert_allclose(scores.astype(np.float32).sum(1), 1.0, atol=5e-3)
    # The saved scores are the model's test predictions: their error is the reported test error.
    labels = _fixture_test_labels(result["config"]["dataset"]["root"], "cifar10")
    assert 100 * np.mean(scores.argmax(1) != labels) == pytest.approx(result["test_error"], abs=1e-6)
    assert (finished_run / "checkpoint.pt").exists() and any((finished_run / "tb").iterdir())


def _fixture_test_labels(root: str, name: str) -> np.ndarray:
    from crelu_repro.data import load_cifar

    with pytest.warns(UserWarning):
        return load_cifar(name, root).test.labels


def test_cifar100_run_and_kfold_validation(cifar_root, tmp_path):
    proc = run_train(
        [
            *TINY,
            "dataset=cifar100",
            f"dataset.root={cifar_root}",
            "eval=kfold",
            "eval.fold=3",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert (result["protocol"], result["fold"], result["num_train"], result["num_val"]) == (
        "kfold",
        3,
        115,
        13,
    )
    assert result["val_error"] is not None
    assert np.load(tmp_path / "test_scores.npy").shape == (64, 100)


def test_rerun_of_a_finished_run_changes_nothing(finished_run, cifar_root):
    before = (finished_run / "result.json").read_text()
    proc = run_train(
        [*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", f"hydra.run.dir={finished_run}"]
    )
    assert proc.returncode == 0 and "already complete" in proc.stderr + proc.stdout
    assert (finished_run / "result.json").read_text() == before


def test_sigkill_after_first_checkpoint_then_resume_equals_uninterrupted(cifar_root, tmp_path):
    args = [*TINY, "trainer.epochs=2", "trainer.deterministic=true", f"dataset.root={cifar_root}"]
    reference = tmp_path / "reference"
    assert run_train([*args, f"hydra.run.dir={reference}"]).returncode == 0

    killed = tmp_path / "killed"
    proc = start_train([*args, f"hydra.run.dir={killed}"])
    wait_for(killed / "checkpoint.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "result.json").exists(), "the run finished before it could be killed"

    resumed = run_train([*args, f"hydra.run.dir={killed}"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr + resumed.stdout
    a = json.loads((reference / "result.json").read_text())
    b = json.loads((killed / "result.json").read_text())
    assert deterministic_part(a) == deterministic_part(b)
    np.testing.assert_array_equal(np.load(reference / "test_scores.npy"), np.load(killed / "test_scores.npy"))
