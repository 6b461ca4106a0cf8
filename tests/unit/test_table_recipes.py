"""A table is its experiment file, composed with the same overrides as its sweep: `make table-X ARGS=...`
trains and renders the same runs, another recipe gets its own folder, and a run's directory follows what
it computes (two configurations that compute different things never share one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crelu_repro.evidence import tables
from crelu_repro.evidence.tables import Table, table_names
from crelu_repro.run.compose import compose
from crelu_repro.run.identity import identity
from tests.helpers.claims import planned, write_run, write_runs


def render_table(name: str, sweep_dir: Path, out: Path, *extra: str) -> str:
    """`python -m crelu_repro.evidence.tables ...` in this process (process/test_sweep_tables.py: the
    real one)."""
    assert tables.main([name, "--sweep-dir", str(sweep_dir), "--out", str(out), *extra]) == 0
    return (out / f"{name}.md").read_text()


def test_every_experiment_with_a_table_node_is_a_table():
    assert table_names() == ("convpool", "imagenet", "placement", "regularization", "vgg")
    assert Table("convpool").rows == ["relu", "double", "avr", "crelu", "crelu_half"]
    assert Table("imagenet").datasets == ["imagenet"] and Table("imagenet").runs[0].fold is None


def test_a_network_is_its_identity_and_its_directory():
    """`model=relu` and `model=relu model.crelu_base=elu` shared relu/cifar10/s0_f0 yet differed in identity,
    so the second was refused there: they build one network, so they are now one run."""
    ident = lambda *o: identity(compose([*o, "out_dir=."]))  # noqa: E731
    assert ident("model=relu") == ident("model=relu", "model.crelu_base=elu")
    assert ident("model=crelu") == ident("model=relu", "model.acts={conv1-7: crelu}")  # one network
    assert ident("model=crelu") != ident("model=crelu", "model.crelu_base=elu")
    declared, elu = Table("placement"), Table("placement", ["model.crelu_base=elu"])
    same = {r.path for r in declared.runs} & {r.path for r in elu.runs}
    assert same == {r.path for r in declared.runs if r.row == "relu"}  # the one row without CReLU
    assert all(
        a.identity == b.identity for a, b in zip(declared.runs, elu.runs, strict=True) if a.path in same
    )
    assert elu.rows[1:] == [
        "relu+crelu@conv1+base_elu",
        "relu+crelu@conv1-2+base_elu",
        "relu+crelu@conv1-4+base_elu",
        "relu+crelu@conv1-5+base_elu",
        "crelu+base_elu",
    ]


def test_the_same_network_twice_is_skipped_not_refused(cifar_train, tmp_path):
    first = cifar_train("model=relu", out=tmp_path / "run")
    again = cifar_train("model=relu", "model.crelu_base=elu", out=tmp_path / "run")
    assert again["skipped"] and again["test_error"] == first["test_error"]


def test_another_recipe_has_its_own_folder_and_states_it():
    declared, recipe = Table("vgg"), Table("vgg", ["trainer.epochs=350", "sched=step"])
    assert not {r.path for r in declared.runs} & {r.path for r in recipe.runs}
    assert recipe.runs[0].path == Path("multirun/vgg/sched=step,trainer.epochs=350/vgg_relu/cifar10/s0_f0")
    assert declared.runs[0].path == Path("multirun/vgg/vgg_relu/cifar10/s0_f0")
    assert recipe.recipe == ["sched=step", "trainer.epochs=350"] and declared.recipe == []
    assert recipe.recipe_text().startswith("350 epochs, batch 128, sgd lr 0.05, step schedule")
    # What changes no run (paths, plan sizes) is no recipe: more models per row reuse the finished ones.
    assert Table("vgg", ["eval.models=5", "dataset.root=/elsewhere"]).runs[0].path == declared.runs[0].path


def test_overrides_rename_the_rows_and_the_table_counts_them(tmp_path):
    """`make table-placement ARGS=model.crelu_base=elu` trained `...+base_elu` runs but rendered 0/10."""
    sweeps, args = tmp_path / "multirun", ["model.crelu_base=elu"]
    for row in ("relu", "relu+crelu@conv1+base_elu", "crelu+base_elu"):
        for i, err in enumerate((9.0, 9.4)):
            write_run(sweeps, "placement", row, "cifar10", i, err, overrides=tuple(args))
    out = render_table("placement", sweeps / "placement", tmp_path / "out", "--", *args)
    assert (
        "| relu+crelu@conv1+base_elu | 2/10 ! | 9.20 ± 0.28 |" in out and "| crelu+base_elu | 2/10 ! |" in out
    )
    assert 'by `make table-placement ARGS="model.crelu_base=elu"`' in out
    render_table("placement", sweeps / "placement", tmp_path / "declared")  # without the ARGS
    declared = json.loads((tmp_path / "declared" / "placement.json").read_text())
    counted = {r["model"]: r["models"] for r in declared["rows"] if r["dataset"] == "cifar10"}
    assert counted == {"relu": 2, "relu+crelu@conv1": 0, "relu+crelu@conv1-2": 0, "relu+crelu@conv1-4": 0,
                       "relu+crelu@conv1-5": 0, "crelu": 0}  # fmt: skip
    assert len(declared["not_counted"]) == 2  # the two ELU rows' folders, one line each


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuch"], "unknown table 'nosuch'; valid: convpool, imagenet, placement, regularization, vgg"),
        (["convpool", "--", "trainer.epochz=3"], "unknown key 'trainer.epochz'"),
        (["convpool", "--", "hydra.sweep.subdir=x"], "a table's run layout is fixed"),
        (["convpool", "--", "model=nosuch"], "cannot compose experiment=convpool with model=nosuch"),
        (["convpool", "--", "optim.lr=0.1,0.2"], "the sweep plans several runs of relu on cifar10"),
    ],
)
def test_a_table_that_cannot_be_planned_is_one_line(args, message, tmp_path, capsys):
    assert tables.main([*args[:1], "--sweep-dir", str(tmp_path), *args[1:]]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_quick_is_the_tables_own_recipe_for_make(capsys):
    assert tables.main(["imagenet", "--quick", "--sweep-args"]) == 0
    assert capsys.readouterr().out.split() == [
        "experiment=imagenet", "dataset.limit_train=500", "dataset.limit_test=500", "dataset.image_size=112",
        "dataset.resize=128", "trainer.epochs=1", "trainer.batch_size=50", "eval.models=2",
        "hydra.sweep.dir=multirun/quick/imagenet",
    ]  # fmt: skip
    quick = Table("imagenet", quick=True)
    assert len(quick.runs) == 14 and quick.runs[0].path.parts[2].startswith("dataset.image_size=112,")


def test_a_missing_planned_run_is_not_run_and_a_planned_one_counts(tmp_path):
    write_runs(tmp_path, "regularization", "crelu", "cifar100", [30.0, 31.0])
    ev_rows = json.loads(
        (render_table("regularization", tmp_path / "regularization", tmp_path / "out") or "")
        and (tmp_path / "out" / "regularization.json").read_text()
    )["rows"]
    row = next(r for r in ev_rows if (r["model"], r["dataset"]) == ("crelu", "cifar100"))
    assert (row["models"], row["planned"]) == (2, 3) and row["test_error"]["paper"] == {"average": 31.48}
    assert row["train_error"]["paper"] == {"average": 14.25}  # the table node says where: {dataset}.train
    assert [(r["seed"], r["fold"]) for r in row["runs"]] == [(0, None), (1, None)]
    assert planned(tmp_path, "regularization", "crelu", "cifar100", 2).path.name == "s2_f0"
