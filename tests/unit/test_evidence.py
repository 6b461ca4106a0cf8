"""Evidence integrity: a table counts exactly the runs its experiment plans, at their planned place with
their planned identity; everything else found under its sweep folder is named with a reason, and no file's
content gives a traceback. Each scenario of issue 17, on runs written by the real writer (helpers/claims.py)
and then hand-edited as a user or a broken disk would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crelu_repro.core import files
from crelu_repro.evidence.claims import Figures, Sweeps, assess, load_claims
from crelu_repro.evidence.tables import Table, build_rows, collect
from crelu_repro.evidence.tables.render import markdown
from tests.helpers.claims import planned, write_runs

ERRORS = {"relu": [10.0, 10.6, 11.0], "crelu_half": [9.0, 9.5, 9.9], "crelu": [8.8, 9.1, 9.3]}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """A convpool sweep root: the first three planned folds of three rows on cifar10 (declared recipe)."""
    sweeps = tmp_path_factory.mktemp("clean") / "multirun"
    for model, errors in ERRORS.items():
        write_runs(sweeps, "convpool", model, "cifar10", errors)
    return sweeps


@pytest.fixture
def sweeps(clean, tmp_path) -> Path:
    """A private copy of the clean sweep, to damage."""
    shutil.copytree(clean, tmp_path / "multirun", symlinks=True)
    return tmp_path / "multirun"


def run(sweeps: Path, model: str = "relu", index: int = 0) -> Path:
    return planned(sweeps, "convpool", model, "cifar10", index).path


def evidence(sweeps: Path):
    return collect(Table("convpool", sweep_dir=sweeps / "convpool"))


def rows_of(ev) -> dict:
    return {(r["model"], r["dataset"]): r for r in build_rows(ev)}


def numbers(ev) -> list[dict]:
    """The rows without their runs' directories (which name the sweep folder)."""
    return [
        {**r, "runs": [(x["seed"], x["fold"], ev.relative(x["dir"])) for x in r["runs"]]}
        for r in build_rows(ev)
    ]


def edit(run_dir: Path, text: str | None = None, **fields: object) -> None:
    """Hand-edit result.json: replace fields, or the whole text."""
    path = run_dir / "result.json"
    if text is None:
        data = json.loads(path.read_text())
        data.update(fields)
        text = json.dumps(data)
    path.write_text(text)


def reasons(ev) -> dict[str, str]:
    return {ev.relative(n.path): n.reason for n in ev.not_counted}


def test_the_clean_sweep_counts_its_planned_runs_and_nothing_else(clean):
    ev = evidence(clean)
    rows = rows_of(ev)
    assert rows[("relu", "cifar10")]["models"] == 3 and rows[("relu", "cifar10")]["planned"] == 10
    assert rows[("relu", "cifar10")]["test_error"]["values"] == ERRORS["relu"]
    assert [(r["seed"], r["fold"]) for r in rows[("relu", "cifar10")]["runs"]] == [(0, 0), (0, 1), (0, 2)]
    assert ev.not_counted == [] and ev.failed == []


def test_backup_copies_change_no_row_interval_or_verdict(clean, sweeps, tmp_path):
    """3 copies of each run made the rows 8/2 and flipped `convpool_half` to reproduced."""
    for model in ERRORS:
        for index in range(3):
            for k in range(3):
                original = run(sweeps, model, index)
                shutil.copytree(original, original.with_name(f"s0_f{index}.bak{k}"))
    assert numbers(evidence(sweeps)) == numbers(evidence(clean))
    names = reasons(evidence(sweeps))
    assert len(names) == 27 and names["relu/cifar10/s0_f0.bak2/result.json"] == (
        "a copy of the planned run relu/cifar10/s0_f0: only the run at its place counts"
    )
    claims = load_claims()[0]
    none = Figures(tmp_path / "none", False)
    ids = lambda sw: {c.id: (c.verdict, c.effect, c.ci) for a in assess(claims, sw, none) for c in a.checks}  # noqa: E731
    assert ids(Sweeps(sweeps, False)) == ids(Sweeps(clean, False))


def test_a_symlinked_result_or_run_is_never_followed(sweeps, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run(sweeps, "relu", 1), elsewhere)
    (sweeps / "convpool" / "mine").mkdir()
    (sweeps / "convpool" / "mine" / "result.json").symlink_to(run(sweeps, "relu", 0) / "result.json")
    shutil.rmtree(run(sweeps, "relu", 1))
    run(sweeps, "relu", 1).symlink_to(elsewhere, target_is_directory=True)  # a planned run dir that is a link
    ev = evidence(sweeps)
    assert rows_of(ev)[("relu", "cifar10")]["test_error"]["values"] == [10.0, 11.0]  # counted once each
    assert reasons(ev) == {
        "mine/result.json": "a symbolic link (links are never followed)",
        "relu/cifar10/s0_f1": "a symbolic link (links are never followed)",
    }
    assert ev.runs[1].why == "relu/cifar10/s0_f1 is a symbolic link (links are never followed)"


def test_a_run_of_another_recipe_is_named_wherever_it_lies(sweeps):
    """A 100-epoch run dropped into a 1-epoch sweep was averaged in under the 1-epoch Recipe line."""
    quick = Table("convpool", quick=True, sweep_dir=sweeps / "convpool")
    stray = quick.runs[0].path.parent / "s0_f2"  # the QUICK plan has folds 0 and 1 only
    shutil.copytree(run(sweeps, "relu", 2), stray)
    at_place = quick.runs[1].path  # relu, fold 1 of the QUICK plan: a declared-recipe run put there
    shutil.copytree(run(sweeps, "relu", 1), at_place)
    ev = collect(quick)
    assert all(not r.counts for r in ev.runs)
    names = reasons(ev)
    folder = quick.runs[0].path.relative_to(quick.sweep_dir).parts[0]
    assert names[f"{folder}/relu/cifar10/s0_f2/result.json"] == (
        "relu on cifar10 (seed 0, fold 2): not a run this table plans"
    )
    differs = names[f"{folder}/relu/cifar10/s0_f1/result.json"]
    assert differs.startswith("its recorded configuration differs from the plan (recorded -> planned): ")
    assert "dataset.limit_train: 0 -> 500" in differs and differs.endswith("(+1 more)")  # trainer.epochs
    assert names["relu"].startswith("3 result(s) in a folder the plan does not use (another recipe?)")


def test_a_run_nested_in_another_runs_folder_is_not_a_run(sweeps):
    """`hydra.run.dir=<a sweep run>/tb/mine` was counted, and turned every row into x/10 !."""
    shutil.copytree(run(sweeps, "crelu", 0), run(sweeps, "relu", 0) / "tb" / "mine")
    ev = evidence(sweeps)
    assert reasons(ev) == {
        "relu/cifar10/s0_f0/tb/mine/result.json": "inside the run directory relu/cifar10/s0_f0: a run nested "
        "in another run's folder"
    }
    assert [(r["models"], r["planned"]) for r in build_rows(ev)][:3] == [(3, 10), (0, 10), (0, 10)]


def test_a_cifar100_result_in_the_cifar10_folder_is_not_counted(sweeps):
    shutil.rmtree(run(sweeps, "relu", 2))
    shutil.copytree(run(sweeps, "relu", 0), run(sweeps, "relu", 2))
    edit(run(sweeps, "relu", 2), dataset="cifar100")
    ev = evidence(sweeps)
    assert reasons(ev)["relu/cifar10/s0_f2/result.json"] == (
        "it records dataset 'cifar100' (planned 'cifar10'), fold 0 (planned 2)"
    )
    assert rows_of(ev)[("relu", "cifar100")]["models"] == 0


@pytest.mark.parametrize(
    "field, value, why",
    [
        ("test_error", float("nan"), "test_error = NaN: it must be a finite number in [0, 100]"),
        ("test_error", -50, "test_error = -50: it must be a finite number in [0, 100]"),
        ("test_error", True, "test_error = true: it must be a finite number in [0, 100]"),
        ("test_error", 1e308, "test_error = 1e+308: it must be a finite number in [0, 100]"),
        ("test_error", "10.1", 'test_error = "10.1": it must be a finite number in [0, 100]'),
        ("model", ["relu"], 'model = ["relu"]: it must be a non-empty string'),
        ("params", "many", 'params = "many": it must be an integer >= 1'),
        ("history", [{"epoch": 1}], "lacks the result field(s) history[0].train_loss"),
        ("config", {}, "its recorded config disagrees with its recorded identity (an edited result?)"),
        ("identity", [], "identity = []: it must be a JSON object"),
    ],
)
def test_each_bad_value_is_named_and_left_out(sweeps, field, value, why):
    edit(run(sweeps, "relu", 1), **{field: value})
    ev = evidence(sweeps)
    assert why in reasons(ev)["relu/cifar10/s0_f1/result.json"]
    assert rows_of(ev)[("relu", "cifar10")]["test_error"]["values"] == [10.0, 11.0]
    md = markdown(ev, build_rows(ev))  # the report goes on
    assert "| relu | 2/10 ! | 10.50 ± 0.71 |" in md and "## Not counted" in md


def test_an_old_eval_models_in_the_config_is_harmless(sweeps):
    config = json.loads((run(sweeps, "relu", 1) / "result.json").read_text())["config"]
    config["eval"]["models"] = "abc"  # gave a ValueError: eval.models is no part of a run's identity
    edit(run(sweeps, "relu", 1), config=config)
    assert rows_of(evidence(sweeps))[("relu", "cifar10")]["models"] == 3


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 40 + "1" + "}" * 40, "{", ""])
def test_deep_or_broken_json_is_named_not_a_recursion_error(sweeps, text):
    edit(run(sweeps, "relu", 1), text)
    reason = reasons(evidence(sweeps))["relu/cifar10/s0_f1/result.json"]
    assert "nests deeper than 32 levels" in reason or "is not valid JSON" in reason


@pytest.mark.parametrize(
    "content, why",
    [
        (["a", "list"], "error.json holds a JSON list without an `error` text"),
        ({"error": {"nested": 1}}, "error.json holds a JSON dict without an `error` text"),
        ({"error": "DatasetError: gone\n  more"}, "DatasetError: gone more"),
        (None, "error.json nests deeper than 32 levels"),
    ],
)
def test_any_error_json_is_one_line_in_the_failed_list(sweeps, content, why):
    failed = run(sweeps, "relu", 3)  # a planned run that has not finished
    failed.mkdir(parents=True)
    text = "[" * 100_000 + "]" * 100_000 if content is None else json.dumps(content)
    (failed / "error.json").write_text(text)
    ev = evidence(sweeps)
    assert ev.failed == [(str(failed), why)] and ev.runs[3].why == f"failed: {why}"


def test_a_deep_figure_json_is_no_recursion_error(tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "pairing.json").write_text("[" * 100_000 + "]" * 100_000)
    found = assess(load_claims()[0], Sweeps(tmp_path / "none", False), Figures(tmp_path, False))
    check = next(
        c for a in found for c in a.checks if c.id == "pairing_relu:cifar10:pairing_mu_conv1:relu<gaussian"
    )
    assert check.verdict == "not run"  # unusable: as if absent


def _scores(run_dir: Path, array: object, **save: object) -> None:
    with open(run_dir / files.SCORES, "wb") as f:
        np.save(f, array, **save)


def _npz(run_dir: Path) -> None:
    np.savez(run_dir / files.SCORES, a=np.zeros(3))  # writes test_scores.npy.npz
    (run_dir / f"{files.SCORES}.npz").rename(run_dir / files.SCORES)


PLAIN = "cannot be read as a plain array"
DAMAGE = {
    "shape": (lambda d: _scores(d, np.zeros((20, 3), np.float16)), "has shape (20, 3); the run's test set"),
    "objects": (lambda d: _scores(d, np.array([{"x": 1}] * 20, dtype=object), allow_pickle=True), PLAIN),
    "nan": (lambda d: _scores(d, np.full((20, 10), np.nan, np.float32)), "holds non-finite scores"),
    "zip junk": (lambda d: (d / files.SCORES).write_bytes(b"PK\x03\x04 not an array"), PLAIN),
    "npz": (_npz, "is not a single array"),
    "no labels": (lambda d: (d / files.LABELS).unlink(), "is missing"),
}


@pytest.mark.parametrize("damage, why", DAMAGE.values(), ids=DAMAGE)
def test_bad_test_scores_leave_that_run_out_of_the_vote_only(sweeps, damage, why):
    damage(run(sweeps, "relu", 1))
    ev = evidence(sweeps)
    row = rows_of(ev)[("relu", "cifar10")]
    assert row["models"] == 3  # its result.json still counts for the Average
    assert row["test_error"]["voters"] == 2 and row["test_error"]["vote_note"] == "2 of 3 runs voted"
    note = next(n for n in ev.not_counted if "relu/cifar10/s0_f1/test_" in ev.relative(n.path))
    assert why in note.reason and note.reason.endswith("the run is left out of the Vote")


def test_an_edited_copy_names_the_fields_it_differs_in(sweeps):
    """A stray copy whose `seed` was edited to 7 was listed as "a copy of the planned run relu s0_f0"."""
    copy = run(sweeps, "relu", 0).with_name("s0_f0.bak")
    shutil.copytree(run(sweeps, "relu", 0), copy)
    edit(copy, seed=7)
    assert reasons(evidence(sweeps)) == {
        "relu/cifar10/s0_f0.bak/result.json": "differs from the planned run relu/cifar10/s0_f0: it records "
        "seed 7 (planned 0); only the run at its place counts"
    }


@pytest.mark.parametrize("where", ["stray", "planned", "elsewhere"])
def test_a_folder_named_result_json_is_listed_not_skipped(sweeps, where):
    """Skipped without a word in a sweep (and at a planned run's place: an IsADirectoryError)."""
    folder = {
        "stray": run(sweeps, "relu", 0).with_name("mine") / "result.json",
        "planned": run(sweeps, "relu", 3) / "result.json",
        "elsewhere": sweeps / "convpool" / "other" / "a" / "result.json",
    }[where]
    folder.mkdir(parents=True)
    ev = evidence(sweeps)
    listed = reasons(ev)
    key = "other" if where == "elsewhere" else ev.relative(folder)
    assert listed.keys() == {key} and listed[key].endswith("is a folder, not a file"), listed
    assert rows_of(ev)[("relu", "cifar10")]["test_error"]["values"] == ERRORS["relu"]
