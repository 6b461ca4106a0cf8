"""CUDA-path behaviour found by reading the code, checked where a CPU can reproduce it: a sweep compiles every
one of its models, a resume keeps this device's fused-SGD choice, deterministic CUDA gets its cuBLAS
workspace setting before CUDA starts."""

from __future__ import annotations

import os

import pytest
import torch
from torch._dynamo.utils import counters

from crelu_repro.run.compose import compose
from crelu_repro.train.build import make_optimizer
from crelu_repro.train.checkpoint import load_optimizer_state
from crelu_repro.train.session import session
from tests.helpers import TINY, train_in_process

# Five models and one dataset change: with Dynamo's recompile_limit of 8 (train and eval graphs per model),
# an in-process sweep used to stop compiling after about four pairs, with one warning line.
SWEEP = [("relu", "cifar10"), ("double", "cifar10"), ("avr", "cifar10"), ("crelu", "cifar10"),
         ("crelu_half", "cifar10"), ("crelu_half", "cifar100")]  # fmt: skip


@pytest.mark.slow  # real processes, long: in `make test-slow` (CI runs both)
def test_an_in_process_sweep_compiles_every_model(cifar_root, tmp_path):
    small = ["trainer.compile=true", "trainer.compile_backend=eager", "dataset.limit_train=64",
             "dataset.limit_test=32", f"dataset.root={cifar_root}"]  # fmt: skip
    compiled = []
    for i, (model, dataset) in enumerate(SWEEP):
        before = counters["stats"]["unique_graphs"]
        train_in_process(*TINY, *small, f"model={model}", f"dataset={dataset}", out=tmp_path / str(i))
        compiled.append(counters["stats"]["unique_graphs"] - before)
    assert all(n > 0 for n in compiled), f"graphs compiled per run: {compiled}"


def test_a_resume_keeps_this_devices_fused_sgd_choice():
    """load_state_dict restores the saved `fused` flag: a run begun on a CPU stayed unfused on CUDA."""
    net = torch.nn.Linear(4, 4)
    cfg = compose(["trainer.device=cpu"]).optim
    saved = make_optimizer(net, cfg).state_dict()  # as a CPU run saves it: fused unset
    assert all(g.get("fused") in (None, False) for g in saved["param_groups"])
    here = make_optimizer(net, cfg)
    for group in here.param_groups:
        group["fused"] = True  # what make_optimizer chooses on CUDA (one kernel per group)
    load_optimizer_state(here, saved)
    assert [g["fused"] for g in here.param_groups] == [True, True]
    loss = net(torch.randn(2, 4)).sum()
    loss.backward()
    here.step()  # and it still steps


def test_deterministic_cuda_sets_cublas_workspace_before_cuda_starts(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    seen = {}

    def init(kind: str):  # the first thing after the device is chosen: nothing of CUDA has run yet
        seen["cublas"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
        raise RuntimeError("stop here")

    monkeypatch.setattr("crelu_repro.core.distributed.init", init)
    with pytest.raises(RuntimeError, match="stop here"), session(compose(["trainer.deterministic=true"])):
        pass
    assert seen["cublas"] == ":4096:8"
