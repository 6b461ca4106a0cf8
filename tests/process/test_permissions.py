"""Folders we may not write, tried as an unprivileged user (tests/helpers/nobody.py): as root every folder
is writable, so these run their command as `nobody`, in a folder `nobody` can read but not write. A finished
run there is skipped writing nothing; anything that has to write is refused with one line (exit 4, the
storage code: the folder is fine, its permissions are not) before it writes anything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, TINY, one_line_error
from tests.helpers import nobody as as_nobody

pytestmark = pytest.mark.skipif(bool(as_nobody.why_not()), reason=as_nobody.why_not() or "")


@pytest.fixture
def world(cifar_root):
    """A folder `nobody` reads but cannot write, holding a copy of the CIFAR-10 fixture (`data`) and a home
    (`home`, the one place `nobody` writes)."""
    root = as_nobody.world_dir()
    shutil.copytree(cifar_root / "cifar-10-batches-py", root / "data" / "cifar-10-batches-py")
    (root / "home").mkdir(mode=0o777)
    (root / "home").chmod(0o777)
    yield root
    shutil.rmtree(root)


def tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `path` with its size and modification time: what a write would change
    (but nobody's home: caches)."""
    found = (p for p in path.rglob("*") if p.relative_to(path).parts[0] != "home")
    return {str(p.relative_to(path)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in found}


def train(world: Path, run_dir: Path, *extra: str):
    args = [str(REPO / "train.py"), *TINY, "trainer.epochs=2", f"dataset.root={world / 'data'}", *extra]
    return as_nobody.run([*args, f"hydra.run.dir={run_dir}"], world / "home")


def test_a_finished_run_in_a_read_only_folder_is_skipped_writing_nothing(finished_run, world):
    shutil.copytree(finished_run, world / "run")
    before = tree(world / "run")
    proc = train(world, world / "run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "already complete" in proc.stdout + proc.stderr
    assert tree(world / "run") == before


@pytest.mark.parametrize("where", ["stopped", "empty", "missing/run"])
def test_an_unfinished_run_in_a_read_only_folder_is_one_line(stopped_run, world, where):
    """A checkpointed run, an empty folder, a folder to make under one: refused before anything is written,
    naming the folder (`nobody` could not write into any of them)."""
    if where == "stopped":
        shutil.copytree(stopped_run, world / where)
    elif where == "empty":
        (world / where).mkdir()
    before = tree(world)
    proc = train(world, world / where)
    assert proc.returncode == 4
    one_line_error(proc.returncode, proc.stderr, str(world / where), "Permission denied")
    assert tree(world) == before


def _commands(world: Path) -> dict[str, tuple[list[str], str]]:
    """command -> (its argv, the folder its message must name); each one's output is read-only to nobody."""
    ro, sweep, run = world / "ro", world / "sweep", world / "sweep" / "run"
    home_out = world / "home" / "out"  # writable: the read-only folder is elsewhere
    return {
        "tables --out": (
            ["-m", "crelu_repro.evidence.tables", "convpool", "--sweep-dir", str(sweep), "--out", str(ro)],
            ro,
        ),
        "tables --out (to make)": (
            [
                "-m",
                "crelu_repro.evidence.tables",
                "convpool",
                "--sweep-dir",
                str(sweep),
                "--out",
                str(ro / "new"),
            ],
            ro,
        ),
        "params --write": (["-m", "crelu_repro.params", "--write", str(ro)], ro),
        "claims --out": (
            ["-m", "crelu_repro.evidence.claims", "--sweeps", str(sweep), "--out", str(ro), "--no-tb"],
            ro,
        ),
        "claims tensorboard": (
            ["-m", "crelu_repro.evidence.claims", "--sweeps", str(sweep), "--out", str(home_out)],
            sweep,
        ),
        "analysis --out": (
            ["-m", "crelu_repro.evidence.analysis", "pairing", str(run), "--out", str(ro)],
            ro,
        ),
        "analysis tensorboard": (
            ["-m", "crelu_repro.evidence.analysis", "pairing", str(run), "--out", str(home_out)],
            run,
        ),
        "dashboard": (["-m", "crelu_repro.train.dashboard", str(sweep)], sweep),
    }


@pytest.mark.parametrize("command", list(_commands(Path("."))))
def test_a_read_only_output_folder_is_one_line_and_nothing_written(finished_run, world, command):
    """`tables --out`, `params --write` and `claims --out` into a folder nobody may write, and the
    TensorBoard copies that claims, analysis and the dashboard write beside the runs: one line, exit 4,
    before anything is written (claims wrote its report, then failed on its TensorBoard copy)."""
    (world / "ro").mkdir()
    shutil.copytree(finished_run, world / "sweep" / "run")
    before = tree(world)
    args, named = _commands(world)[command]
    proc = as_nobody.run(args, world / "home")
    assert proc.returncode == 4
    one_line_error(proc.returncode, proc.stderr, str(named), "is not writable")
    assert tree(world) == before and not (world / "home" / "out").exists()
