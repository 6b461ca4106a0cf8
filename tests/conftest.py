"""Shared fixtures: a tiny canonical CIFAR tree and a helper that runs `train.py` as a user would."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cifar_fixture import write_cifar  # noqa: E402
from imagenet_fixture import write_imagenet  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
torch.set_num_threads(1)  # in-process runs compute as the subprocesses (OMP_NUM_THREADS=1) and share 2 cores
SHARED_CIFAR10 = REPO.parent / "shared" / "data" / "cifar10-subset"

# The smallest honest run: real model, real loop, a few batches. The model stays last: sweeps drop it
# (TINY[:-1]) to name their own.
TINY = [
    "trainer.device=cpu",
    "trainer.epochs=1",
    "trainer.batch_size=32",
    "trainer.eval_batch_size=64",
    "model=crelu_half",
]


@pytest.fixture(scope="module")
def composer():
    """compose(*overrides, return_hydra_config=...) inside one Hydra initialization per test module."""
    from hydra import compose, initialize_config_dir

    from crelu_repro.config import register
    from crelu_repro.config_files import CONFIG_DIR

    register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        yield lambda *overrides, **kw: compose("train", overrides=list(overrides), **kw)


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory) -> Path:
    """CIFAR-10 and CIFAR-100 in the canonical layout: 128 train / 64 test images each."""
    root = tmp_path_factory.mktemp("data")
    write_cifar(root, "cifar10", n_train=128, n_test=64)
    write_cifar(root, "cifar100", n_train=128, n_test=64)
    return root


def train_env(**extra: str) -> dict:
    """The environment of every process a test starts. The suite must run the same on a machine with a GPU:
    every command line that trains names its device (`trainer.device=cpu`, `--device cpu`; checked by
    `device_pinned` below), which says what the test means, and the GPU is hidden as well, so that a
    `trainer.device=auto` default or a helper process cannot reach CUDA (NCCL, a second device) either."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": "", **extra})
    return env


def unpinned_device(cmd: object) -> str | None:
    """What is wrong with a command line that trains without naming its device (None when fine): train.py
    needs `trainer.device=...`, scripts/benchmark.py `--device ...`."""
    if isinstance(cmd, str):
        args = shlex.split(cmd)
    else:
        args = [str(a) for a in cmd] if isinstance(cmd, list | tuple) else [str(cmd)]
    names = [Path(a).name for a in args]
    if "train.py" in names and not any(a.startswith("trainer.device=") for a in args):
        return "train.py without trainer.device=... (add trainer.device=cpu, as TINY does)"
    if "benchmark.py" in names and not any(a == "--device" or a.startswith("--device=") for a in args):
        return "scripts/benchmark.py without --device (add --device cpu)"
    return None


@pytest.fixture(scope="session", autouse=True)
def device_pinned():
    """Fails any test that starts a training process without naming its device (see train_env)."""
    real_init = subprocess.Popen.__init__

    def init(self, args, *rest, **kw):
        if problem := unpinned_device(args):
            pytest.fail(f"a test started {problem}; tests pin the device so they run the same on a GPU")
        real_init(self, args, *rest, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess.Popen, "__init__", init)
        yield


def train_cmd(args: list[str]) -> list[str]:
    return [sys.executable, str(REPO / "train.py"), *args]


def torchrun_cmd(args: list[str], nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            str(REPO / "train.py"), *args]  # fmt: skip


def torchrun_workers(agent_pid: int) -> dict[str, int]:
    """rank -> pid of the training processes a torchrun agent started (read from /proc)."""

    def descendants(pid: int) -> list[int]:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        kids = [int(c) for c in children.read_text().split()] if children.exists() else []
        return kids + [g for k in kids for g in descendants(k)]

    workers = {}
    for pid in descendants(agent_pid):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        rank = next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"RANK=")), None)
        if rank is not None:
            workers[rank] = pid
    return workers


def run(cmd: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """A command from the repo root, as a user runs it; never raises on a non-zero exit."""
    return subprocess.run(
        cmd, cwd=REPO, env=train_env(**env), capture_output=True, text=True, timeout=timeout
    )


def start(cmd: list[str], **env: str) -> subprocess.Popen:
    """A command in the background (text pipes, its own process group: `os.killpg` ends all of it)."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen(cmd, cwd=REPO, env=train_env(**env), start_new_session=True, **pipes)


def run_train(args: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`python train.py args...` (a single run or, with "-m", a sweep)."""
    return run(train_cmd(args), timeout, **env)


def start_train(args: list[str], **env: str) -> subprocess.Popen:
    """`python train.py args...` in the background, for tests that signal it mid-run."""
    return start(train_cmd(args), **env)


def train_in_process(*overrides: str, out: Path) -> dict:
    """The fast tier: compose the real config as train.py would and call `train(cfg)` in this process."""
    from crelu_repro.config import compose
    from crelu_repro.trainer import train

    return train(compose([*overrides, f"out_dir={out}"]))


@pytest.fixture
def cifar_train(cifar_root, tmp_path):
    """`cifar_train(*overrides, out=...) -> result`: a TINY in-process run on the CIFAR fixture (into
    tmp_path/run unless `out` is given); the logic tier, like lightning-hydra-template's cfg_train."""

    def go(*overrides: str, out: Path | None = None) -> dict:
        return train_in_process(*TINY, f"dataset.root={cifar_root}", *overrides, out=out or tmp_path / "run")

    return go


def signal_after_checkpoint(
    proc: subprocess.Popen, run_dir: Path, sig: int = signal.SIGTERM, rank: str | None = None
) -> tuple[str, float]:
    """Send `sig` once `run_dir` holds a checkpoint, to the process or (torchrun) to its worker of `rank`;
    return (its stderr, seconds from the signal to the exit). Kills the process group if it hangs."""
    try:
        wait_for(run_dir / "checkpoint.pt", proc)
        assert proc.poll() is None, "the run ended before it could be signalled"
        os.kill(torchrun_workers(proc.pid)[rank] if rank else proc.pid, sig)
        sent = time.time()
        _, stderr = proc.communicate(timeout=300)
        return stderr, time.time() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Poll until `path` exists (or the process ends, or `timeout` passes)."""
    deadline = time.time() + timeout
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)


def render_table(table: str, sweep_dir: Path, out_dir: Path, *extra: str) -> str:
    """`python -m crelu_repro.tables ...`; returns what it printed."""
    cmd = [
        sys.executable,
        "-m",
        "crelu_repro.tables",
        table,
        "--sweep-dir",
        str(sweep_dir),
        "--out",
        str(out_dir),
    ]
    cmd += extra
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def finished_run(cifar_root, tmp_path_factory) -> Path:
    """One finished 2-epoch CIFAR-10 run directory, shared by the output and dashboard tests."""
    run_dir = tmp_path_factory.mktemp("runs") / "finished"
    train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)
    return run_dir


@pytest.fixture(scope="session")
def stopped_run(cifar_root, tmp_path_factory) -> Path:
    """A TINY run whose 2 epochs are trained and checkpointed, its outputs not yet written: what a resume
    starts from. Copy it before changing it."""
    run_dir = tmp_path_factory.mktemp("stopped") / "run"
    train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)
    for name in ("result.json", "test_scores.npy", "test_labels.npy"):
        (run_dir / name).unlink()
    return run_dir


def renamed_run(trained: Path, run_dir: Path, model: str, classes: int) -> Path:
    """A finished run of `model` at `run_dir`: the trained run's files, with the model renamed and fresh
    weights of that model (for analyses that need a loadable finished run, not a trained one)."""
    from crelu_repro import checkpoint, runio
    from crelu_repro.models import build_model, load_variant

    shutil.copytree(trained, run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    result["model"] = model
    result["config"]["model"] = dataclasses.asdict(load_variant(model))
    checkpoint.save_checkpoint(run_dir, {"model": build_model(model, classes).state_dict()})
    runio.write_json(run_dir / "result.json", result)
    return run_dir


# A tiny ImageNet: 4 classes (the half-width nets need an even class count), real JPEGs of varied sizes.
IMAGENET_WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361"]
IMAGENET_ARGS = [
    "dataset=imagenet",
    "dataset.num_classes=4",
    "trainer.epochs=1",
    "trainer.batch_size=8",
    "trainer.eval_batch_size=4",
    "dataset.image_size=112",  # a small crop keeps All-CNN-B fast on a CPU (its global pool takes any size)
    "dataset.resize=128",
    "dataset.num_workers=1",
    "trainer.device=cpu",
]


@pytest.fixture(scope="session")
def imagenet_root(tmp_path_factory) -> Path:
    return write_imagenet(
        tmp_path_factory.mktemp("imagenet"), per_class=4, val_per_class=2, wnids=IMAGENET_WNIDS
    )
