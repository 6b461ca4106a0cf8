"""The collector: exactly a table's planned runs, and everything else under its sweep folder named.

    evidence = collect(Table("convpool"))
    evidence.runs            # one RunRecord per planned run: its PlannedRun, its Result if it counts, why not
    evidence.counted("relu", "cifar10")   # the counted records of a row, in plan order (seed, fold kept)
    evidence.not_counted     # [NotCounted(path, reason)]: each result found that is not a planned run
                             #   with its planned identity, each symlink, each unusable file
    evidence.failed          # [(run dir, error)]: planned runs whose last attempt failed (error.json)

A result counts only if it sits at its planned place (no symbolic link on the way below the sweep folder:
links are never followed), reads through result.json's schema, says the planned row, dataset, seed and
fold, and its recorded identity equals the planned one. Nothing else enters an average, a Vote or an
interval: backups, strays, other recipes or datasets, runs nested in other runs are listed with a reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...core.results import RESULT, Result, ResultError, read_result
from ...run.identity import canonical_identity, config_diff
from ...run.sweep import ERROR, error_message
from .planned import PlannedRun, Table
from .scores import ScoresError, load_scores

NOT_RUN = "not run"


@dataclass(frozen=True)
class NotCounted:
    path: str
    reason: str

    def to_json(self) -> dict:
        return {"path": self.path, "reason": self.reason}


@dataclass
class RunRecord:
    plan: PlannedRun
    result: Result | None = None  # set only when the run counts
    why: str = NOT_RUN  # "" when it counts; else why not ("not run", "failed: ...", a file's problem)
    scores_why: str = ""  # a counted run whose test scores cannot vote: why (a Vote table checks them)

    @property
    def counts(self) -> bool:
        return self.result is not None


@dataclass
class Evidence:
    table: Table
    runs: list[RunRecord]
    not_counted: list[NotCounted] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def counted(self, row: str, dataset: str) -> list[RunRecord]:
        return [r for r in self.runs if r.counts and (r.plan.row, r.plan.dataset) == (row, dataset)]

    def relative(self, path: Path | str) -> str:
        """`path` as the report shows it: below the sweep folder."""
        try:
            return str(Path(path).relative_to(self.table.sweep_dir))
        except ValueError:
            return str(path)


def collect(table: Table) -> Evidence:
    """Read exactly `table`'s planned runs; list everything else found under its sweep folder."""
    evidence = Evidence(table, [RunRecord(run) for run in table.runs])
    for record in evidence.runs:
        _read_planned(evidence, record)
        if record.counts and table.spec.vote:
            _check_scores(evidence, record)
    _list_strays(evidence)
    evidence.not_counted.sort(key=lambda n: n.path)
    return evidence


def check_run(table: Table, run: PlannedRun) -> RunRecord:
    """One planned run's record alone (its result if it counts, else why not), without reading the rest
    of the table: for callers that need one run (the figures), by the same rules as `collect`."""
    record = RunRecord(run)
    _read_planned(Evidence(table, [record]), record)
    return record


def _read_planned(evidence: Evidence, record: RunRecord) -> None:
    run = record.plan
    link = _link_below(evidence.table.sweep_dir, run.path)
    if link is not None:
        record.why = f"{evidence.relative(link)} is a symbolic link (links are never followed)"
        return
    try:
        result = read_result(run.path)
    except ResultError as err:
        record.why = _short(err, run.path / RESULT)
        evidence.not_counted.append(NotCounted(str(run.path / RESULT), record.why))
        return
    if result is None:
        if (run.path / ERROR).exists() or (run.path / ERROR).is_symlink():
            message = error_message(run.path / ERROR)
            record.why = f"failed: {message}"
            evidence.failed.append((str(run.path), message))
        return
    record.why = _mismatch(result, run)
    if record.why:
        evidence.not_counted.append(NotCounted(str(run.path / RESULT), record.why))
    else:
        record.result = result


def _check_scores(evidence: Evidence, record: RunRecord) -> None:
    try:
        load_scores(record.plan.path, record.result.num_test, record.plan.classes)
    except ScoresError as err:
        record.scores_why = str(err)
        evidence.not_counted.append(
            NotCounted(str(err.path), f"{err.reason}: the run is left out of the Vote")
        )


def _mismatch(result: Result, run: PlannedRun) -> str:
    """Why a result at a planned place is not that planned run ("" when it is)."""
    said = (result.model, result.dataset, result.seed, result.fold)
    if said != run.key:
        names = ("model", "dataset", "seed", "fold")
        diffs = [f"{n} {a!r} (planned {b!r})" for n, a, b in zip(names, said, run.key, strict=True) if a != b]
        return "it records " + ", ".join(diffs)
    recorded = canonical_identity(result.identity)
    if canonical_identity(result.config) != recorded:  # the resolved config it recorded is not its identity's
        return "its recorded config disagrees with its recorded identity (an edited result?)"
    if recorded != run.identity:
        diffs = config_diff(recorded, run.identity)
        more = f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else ""
        return (
            "its recorded configuration differs from the plan (recorded -> planned): "
            + "; ".join(diffs[:3])
            + more
        )
    return ""


def _short(err: ResultError, path: Path) -> str:
    """A ResultError's problem without the path it starts with."""
    return err.problem.removeprefix(str(path)).strip() or err.problem


def _link_below(root: Path, path: Path) -> Path | None:
    """The first symbolic link among `path` and its parents below `root` (`root` itself may be one)."""
    parts = path.relative_to(root).parts
    for i in range(1, len(parts) + 1):
        here = root.joinpath(*parts[:i])
        if here.is_symlink():
            return here
    return None


def _list_strays(evidence: Evidence) -> None:
    """Name every result.json (and every symlinked run or result) under the sweep folder that is not a
    planned run's own, with why it is not counted."""
    sweep = evidence.table.sweep_dir
    planned = {r.plan.path: r for r in evidence.runs}
    by_identity = {_frozen(r.plan.identity): r.plan for r in evidence.runs}
    by_key = {r.plan.key: r.plan for r in evidence.runs}
    listed = {n.path for n in evidence.not_counted}
    tops = {r.plan.path.relative_to(sweep).parts[0] for r in evidence.runs}
    elsewhere: dict[str, list[Path]] = {}  # a top folder the plan does not use: another recipe or table
    for path, kind in _found(sweep):
        if str(path) in listed or (kind == RESULT and path.parent in planned):
            continue
        parts = path.relative_to(sweep).parts
        if kind == RESULT and len(parts) > 2 and parts[0] not in tops:
            elsewhere.setdefault(parts[0], []).append(path)
            continue
        if kind == "link":
            reason = "a symbolic link (links are never followed)"
        elif kind == "unreadable":
            reason = "a folder that cannot be read"
        else:
            reason = _stray_reason(evidence, path, planned, by_identity, by_key)
        evidence.not_counted.append(NotCounted(str(path), reason))
    for top, paths in elsewhere.items():  # one line per folder, not one per run of another recipe
        first = _stray_reason(evidence, paths[0], planned, by_identity, by_key)
        reason = f"{len(paths)} result(s) in a folder the plan does not use (another recipe?); first: {first}"
        evidence.not_counted.append(NotCounted(str(sweep / top), reason))


def _stray_reason(evidence: Evidence, path: Path, planned: dict, by_identity: dict, by_key: dict) -> str:
    host = next((p for p in path.parent.parents if p in planned), None)
    if host is not None:
        return f"inside the run directory {evidence.relative(host)}: a run nested in another run's folder"
    try:
        result = read_result(path.parent)
    except ResultError as err:
        return _short(err, path)
    twin = by_identity.get(_frozen(canonical_identity(result.identity)))
    if twin is not None:  # its identity is the plan's; a hand edit may still have changed what it says
        differs = _mismatch(result, twin)
        where = evidence.relative(twin.path)
        if differs:
            return f"differs from the planned run {where}: {differs}; only the run at its place counts"
        return f"a copy of the planned run {where}: only the run at its place counts"
    what = f"{result.model} on {result.dataset} (seed {result.seed}, fold {result.fold})"
    same = by_key.get((result.model, result.dataset, result.seed, result.fold))
    if same is None:
        return f"{what}: not a run this table plans"
    reason = _mismatch(result, same).replace("the plan", f"the plan's {evidence.relative(same.path)}")
    return f"{what}, not at its planned place; {reason}"


def _frozen(identity: dict) -> str:
    return json.dumps(identity, sort_keys=True, default=str)


def _found(root: Path) -> Iterator[tuple[Path, str]]:
    """(path, kind) under `root` without following links: kind `result.json` for a result file (or a folder
    of that name), `link` for a symlinked result.json or folder, `unreadable` for a folder that cannot be
    listed."""
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            if folder != Path(root):
                yield folder, "unreadable"
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                if entry.name == RESULT or path.is_dir():
                    yield path, "link"
            elif entry.is_dir(follow_symlinks=False):
                stack.append(path)
                if entry.name == RESULT:  # not a result: named where it lies (read_result says why)
                    yield path, RESULT
            elif entry.name == RESULT:
                yield path, RESULT
