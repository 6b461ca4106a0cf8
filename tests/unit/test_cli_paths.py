"""params, tables and claims: a file where a folder belongs, a folder that is missing, or a write that fails
is one message, not a traceback, and nothing is written: each CLI's `main` in this process. That the real
commands exit non-zero with that one line is tests/process/test_cli_paths.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from crelu_repro.core import faults
from crelu_repro.evidence import params, tables
from crelu_repro.evidence.analysis.cli import main as analysis_main
from crelu_repro.evidence.claims.cli import main as claims_main
from crelu_repro.evidence.plan import main as plan_main
from crelu_repro.train import dashboard
from tests.helpers import REPO, one_line_error
from tests.helpers.claims import write_run

MAINS = {"params": params.main, "tables": tables.main, "claims": claims_main}


@pytest.fixture
def places(tmp_path) -> dict[str, Path]:
    (tmp_path / "a_file").write_text("keep me\n")
    (tmp_path / "sweep").mkdir()
    return {"file": tmp_path / "a_file", "sweep": tmp_path / "sweep"}


@pytest.mark.parametrize(
    "module, args, named",
    [
        ("params", ["--write", "{file}"], ["--write", "is a file"]),
        ("params", ["--write", "{file}/sub"], ["--write", "cannot be created", "is a file"]),
        (
            "tables",
            ["convpool", "--sweep-dir", "{file}"],
            ["--sweep-dir", "is a file", "make table-convpool"],
        ),
        ("tables", ["convpool", "--sweep-dir", "{sweep}", "--out", "{file}"], ["--out", "is a file"]),
        ("claims", ["--sweeps", "{sweep}", "--out", "{file}", "--no-tb"], ["--out", "is a file"]),
        ("claims", ["--sweeps", "{file}", "--out", "{sweep}/out"], ["--sweeps", "is a file", "make claims"]),
        (
            "tables",
            ["convpool", "--sweep-dir", "{sweep}", "--out", "{file}/x"],
            ["--out", "cannot be created"],
        ),
    ],
)
def test_a_file_where_a_folder_belongs_is_one_clear_message(module, args, named, places, capsys):
    code = MAINS[module]([a.format(**places) for a in args])
    one_line_error(code, capsys.readouterr().err, str(places["file"]), *named)
    assert places["file"].read_text() == "keep me\n"
    assert sorted(p.name for p in places["sweep"].iterdir()) == []  # nothing written into the sweep either


def test_a_missing_sweep_names_the_make_target(tmp_path, capsys):  # already one line on fe9da43: it stays so
    code = tables.main(["vgg", "--sweep-dir", str(tmp_path / "none")])
    one_line_error(code, capsys.readouterr().err, "make table-vgg")
    # claims exited 0 with every verdict "not run" from a folder that does not exist
    none = str(tmp_path / "none")
    code = claims_main(["--sweeps", none, "--quick"])
    one_line_error(code, capsys.readouterr().err, "--sweeps", none, "does not exist", "QUICK=1")
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("name", ["table_params.md", "table_params.json"])
def test_a_write_that_fails_after_the_checks_is_a_storage_error(places, monkeypatch, capsys, name):
    """`params --write` on a full disk: one line, exit 4, and the previous file whole (written atomically,
    as the tables are)."""
    out = places["sweep"] / "out"
    assert params.main(["--write", str(out)]) == 0
    before = (out / name).read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(faults, "_point", "enospc_in_write")
    monkeypatch.setattr(faults, "_arg", name)
    assert params.main(["--write", str(out)]) == 4
    (err,) = capsys.readouterr().err.strip().splitlines()  # one line
    assert "No space left on device" in err and f"the previous {name} is intact" in err
    assert (out / name).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["table_params.json", "table_params.md"]  # no temp file


@pytest.mark.parametrize("name", ["convpool.md", "convpool.json"])
def test_a_full_disk_leaves_the_previous_table_whole(places, monkeypatch, capsys, name):
    """A full disk left convpool.json truncated at 4096 bytes: tables are now written atomically."""
    out = places["sweep"] / "out"
    argv = ["convpool", "--sweep-dir", str(places["sweep"]), "--out", str(out)]
    assert tables.main(argv) == 0
    before = (out / name).read_bytes()
    monkeypatch.setattr(faults, "_point", "enospc_in_write")
    monkeypatch.setattr(faults, "_arg", name)
    assert tables.main(argv) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "No space left on device" in err[0] and f"the previous {name} is intact" in err[0]
    )
    assert (out / name).read_bytes() == before and sorted(p.name for p in out.iterdir()) == [
        "convpool.json",
        "convpool.md",
    ]  # no temporary file left


def _figures_main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("figures_script", REPO / "scripts" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


# Each command that writes into a folder, with a link as that folder ({out}); {sweep} holds a finished run.
LINKED_OUT = {
    "params": (params.main, ["--write", "{out}"]),
    "tables": (tables.main, ["convpool", "--sweep-dir", "{sweep}", "--out", "{out}"]),
    "claims": (claims_main, ["--sweeps", "{sweep}", "--out", "{out}", "--no-tb"]),
    "plan": (plan_main, ["--table", "convpool", "--sweeps", "{sweep}", "--out", "{out}"]),
    "analysis": (analysis_main, ["pairing", "{sweep}", "--out", "{out}"]),
    "figures": (_figures_main, ["--sweeps", "{sweep}", "--out", "{out}"]),
    "dashboard": (dashboard.main, ["{sweep}"]),  # its one output: <sweep>/_layout
}


@pytest.mark.parametrize("command", LINKED_OUT)
def test_a_link_at_an_output_folder_is_refused_and_its_target_untouched(command, tmp_path, capsys):
    """`claims --out <a link to a folder>` wrote through the link (a link at a file was already refused):
    every output folder goes through files.output_dir, which refuses one."""
    target, sweep = tmp_path / "elsewhere", tmp_path / "sweep"
    target.mkdir()
    write_run(sweep, "convpool", "relu", "cifar10", 0, 10.0)  # a result, so that the dashboard writes
    out = sweep / "_layout" if command == "dashboard" else tmp_path / "out"
    out.symlink_to(target, target_is_directory=True)
    main, argv = LINKED_OUT[command]
    code = main([a.format(out=out, sweep=sweep) for a in argv])
    one_line_error(code, capsys.readouterr().err, f"{out} is a symbolic link (to {target})")
    assert code == 2 and list(target.iterdir()) == []  # nothing written through it
