"""What a run directory holds is checked before it is trusted: the part that needs real processes (signals,
exit codes, subprocesses); the in-process tests are tests/unit/test_run_files.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.results import ResultError
from tests.helpers import TINY, one_line_error, run_train, train_in_process


@pytest.mark.parametrize(
    "content, what",
    [
        ({"layers.conv1.conv.weight": torch.zeros(1)}, "a dict without 'format'"),  # a bare state_dict
        ([1, 2, 3], "a list"),
    ],
)
def test_a_checkpoint_that_is_not_ours_is_named_not_a_keyerror(cifar_root, tmp_path, content, what):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save(content, run_dir / "checkpoint.pt")
    with pytest.raises(ConfigError, match=f"not a checkpoint this trainer can resume \\({what}"):
        train_in_process(*TINY, f"dataset.root={cifar_root}", out=run_dir)
    if not isinstance(content, dict):
        return  # the command's one line and exit status: once (the path from the error to it is shared)
    proc = run_train([*TINY, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "Move it away" in proc.stderr


DEEP = "[" * 100_000 + "]" * 100_000  # gave RecursionError in train.py, the tables and the claims


@pytest.mark.parametrize("content", ["[1, 2]", '"done"', "{}", DEEP], ids=["list", "text", "empty", "deep"])
def test_a_result_json_that_is_not_a_result_is_named(cifar_root, tmp_path, content):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "result.json").write_text(content)
    with pytest.raises(ResultError, match="not a result this trainer wrote"):
        train_in_process(*TINY, f"dataset.root={cifar_root}", out=run_dir)
    assert (run_dir / "result.json").read_text() == content  # neither trusted nor overwritten
    if content is not DEEP:
        return  # through train.py once: the deep file, which gave train.py its RecursionError traceback
    proc = run_train([*TINY, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "result.json" in proc.stderr


def test_a_run_dir_that_is_a_file_is_one_line(cifar_root, tmp_path):
    path = tmp_path / "a_file"
    path.write_text("mine")
    proc = run_train([*TINY, f"dataset.root={cifar_root}", f"hydra.run.dir={path}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: hydra.run.dir {path} exists and is a file, not a directory; choose another hydra.run.dir"
    ]
    assert path.read_text() == "mine"


@pytest.fixture
def read_only(tmp_path):
    """A real read-only file system (a tmpfs remounted read-only), with `fill(dir)` run while writable."""
    mount = tmp_path / "ro"
    mount.mkdir()

    def make(fill) -> Path:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)]).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN, as CI has)")
        fill(mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        return mount

    yield make
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_finished_run_on_a_read_only_file_system_is_skipped(finished_run, cifar_root, read_only):
    mount = read_only(lambda m: shutil.copytree(finished_run, m / "run"))
    proc = run_train(
        [*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", f"hydra.run.dir={mount / 'run'}"]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "already complete" in proc.stdout + proc.stderr


@pytest.mark.parametrize("where", ["run", "missing/run"])
def test_an_unfinished_run_on_a_read_only_file_system_is_one_line(cifar_root, read_only, where):
    mount = read_only(lambda m: (m / "run").mkdir())
    proc = run_train([*TINY, f"dataset.root={cifar_root}", f"hydra.run.dir={mount / where}"])
    assert proc.returncode == 4 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and "Read-only file system" in proc.stderr


def test_no_interval_from_zero_spread_in_a_table(tmp_path):
    """Two identical QUICK errors per side gave `+0.20 [+0.20, +0.20] *`: a 'significant' difference."""
    from tests.helpers import render_table
    from tests.helpers.claims import write_run

    for seed in (0, 1):
        write_run(tmp_path, "convpool", "relu", "cifar10", seed, 10.0)
        write_run(tmp_path, "convpool", "crelu", "cifar10", seed, 10.2)
    write_run(tmp_path, "convpool", "avr", "cifar10", 0, 11.0)
    out = render_table("convpool", tmp_path / "convpool", tmp_path / "out")
    assert "| crelu | 2/10 ! |" in out and "+0.20 (no interval: zero spread on both sides)" in out
    assert "+1.00 (no interval: fewer than 2 runs on a side)" in out and " *" not in out
    rows = json.loads((tmp_path / "out" / "convpool.json").read_text())["rows"]
    crelu = next(r for r in rows if (r["model"], r["dataset"]) == ("crelu", "cifar10"))
    assert crelu["vs_baseline"]["significant"] is False and crelu["vs_baseline"]["low"] is None


@pytest.mark.parametrize("name", ["result.json", ".hydra"])
def test_the_wrong_kind_at_a_run_name_is_one_line_through_train_py(cifar_root, tmp_path, name):
    """`mkdir -p D/result.json && python train.py ...` gave an IsADirectoryError traceback (exit 1); a file
    named .hydra gave exit 4 and "fix the permissions". Each kind of name once (tests/unit has them all)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / name).mkdir() if name == "result.json" else (run_dir / name).touch()
    proc = run_train([*TINY, f"dataset.root={cifar_root}", f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 2
    one_line_error(proc.returncode, proc.stderr, str(run_dir / name), "move it away")
    assert [p.name for p in run_dir.iterdir()] == [name]
