"""Nothing is written outside a run: a symbolic link in the place of any file or folder a run writes is
refused with one line naming it, and its target is never touched (docs/reliability.md: "Outputs are written
only under fixed names inside the run directory")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from crelu_repro.core import files
from crelu_repro.core.errors import StorageError, SymlinkError
from crelu_repro.train.run_dir import OWN_NAMES
from tests.helpers import TINY, train_in_process

FOLDERS = (".hydra", "tb")  # the names that are folders; the others are files


def plant(run_dir: Path, name: str, outside: Path) -> Path:
    """Replace `run_dir/name` with a link to an unrelated file (or folder) in `outside`; return the target."""
    target = outside / f"precious_{name.strip('.').replace('/', '_')}"
    if name in FOLDERS:
        target.mkdir(parents=True)
        (target / "config.yaml").write_text("theirs\n")  # what `.hydra` used to overwrite
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("theirs\n")
    link = run_dir / name
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(target)
    return target


def snapshot(path: Path) -> dict[str, str]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): p.read_text() for p in files}


@pytest.mark.parametrize("name", [*OWN_NAMES, ".hydra/config.yaml"])
def test_a_link_in_place_of_a_run_file_is_refused_and_its_target_untouched(
    stopped_run, cifar_root, tmp_path, name
):
    run_dir = tmp_path / "run"
    shutil.copytree(stopped_run, run_dir, symlinks=True)
    target = plant(run_dir, name, tmp_path / "outside")
    before = snapshot(target)
    with pytest.raises(SymlinkError, match=f"{run_dir / name} is a symbolic link \\(to {target}\\)"):
        train_in_process(*TINY, "trainer.epochs=2", f"dataset.root={cifar_root}", out=run_dir)
    assert snapshot(target) == before  # nothing written through the link, nothing added beside
    assert os.path.islink(run_dir / name)  # and the link itself is left for the user to look at


def test_a_finished_run_holds_only_its_fixed_names(finished_run):
    assert {p.name for p in finished_run.iterdir()} <= set(OWN_NAMES)
    assert {p.name for p in (finished_run / ".hydra").iterdir()} <= {"config.yaml", "overrides.yaml"}


def test_atomic_write_never_follows_a_link_at_its_temporary_name(tmp_path):
    """The temporary name is predictable (`.<name>.tmp<pid>`): a link planted there is removed, not
    followed, and the file lands in its folder."""
    victim = tmp_path / "victim"
    victim.write_text("theirs\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / f".result.json.tmp{os.getpid()}").symlink_to(victim)
    files.write_json(tmp_path / "run" / "result.json", {"ours": 1})
    assert victim.read_text() == "theirs\n"
    assert files.read_json(tmp_path / "run" / "result.json") == {"ours": 1}
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["result.json"]


def test_a_write_whose_folder_is_gone_says_so_not_free_some_space(tmp_path):
    with pytest.raises(StorageError) as err:
        files.write_text(tmp_path / "removed" / "report.md", "x")
    said = str(err.value)
    assert "its folder" in said and "does not exist" in said and "space" not in said
    assert not (tmp_path / "removed").exists()
