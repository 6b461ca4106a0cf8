"""What the tests share: the repository, the tiny run's overrides, and helpers that run `train.py` (or
torchrun, or a table) as a user would. Fixtures live in tests/conftest.py; data writers in this package's
cifar.py, imagenet.py and claims.py; device_spy.py counts host-device copies and kernels."""

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

REPO = Path(__file__).resolve().parents[2]


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


_NOT_INHERITED = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


def train_env(**extra: str) -> dict:
    """The environment of every process a test starts. The suite must run the same on a machine with a GPU:
    every command line that trains names its device (`trainer.device=cpu`, `--device cpu`; checked by
    `device_pinned` below), which says what the test means, and the GPU is hidden as well, so that a
    `trainer.device=auto` default or a helper process cannot reach CUDA (NCCL, a second device) either.
    Make's own variables are dropped: under `make test` they would make a test's `make` a sub-make, whose
    messages read "make[1]: ..." and which shares the outer make's flags."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
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


def one_line_error(code: int, err: str, *named: str) -> None:
    """A command's refusal: a non-zero status and one stderr line, "error: ...", naming each of `named`."""
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert all(n in lines[0] for n in named), lines[0]


def train_in_process(*overrides: str, out: Path) -> dict:
    """The fast tier: compose the real config as train.py would and call `train(cfg)` in this process."""
    from crelu_repro.run.compose import compose
    from crelu_repro.train.trainer import train

    return train(compose([*overrides, f"out_dir={out}"]))


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
    """`python -m crelu_repro.evidence.tables ...`; returns what it printed."""
    cmd = [
        sys.executable,
        "-m",
        "crelu_repro.evidence.tables",
        table,
        "--sweep-dir",
        str(sweep_dir),
        "--out",
        str(out_dir),
    ]
    cmd += extra
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout


def renamed_run(trained: Path, run_dir: Path, model: str, classes: int) -> Path:
    """A finished run of `model` at `run_dir`: the trained run's files, with the model renamed and fresh
    weights of that model (for analyses that need a loadable finished run, not a trained one)."""
    from crelu_repro.core import files
    from crelu_repro.models import build_model, load_variant
    from crelu_repro.train import checkpoint

    shutil.copytree(trained, run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    result["model"] = model
    result["config"]["model"] = dataclasses.asdict(load_variant(model))
    checkpoint.write(run_dir, {"model": build_model(model, classes).state_dict()})
    files.write_json(run_dir / "result.json", result)
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
