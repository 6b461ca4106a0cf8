"""A table is its experiment file: `configs/experiment/<table>.yaml` with a `table:` node.

The node (schema: `schema.TableConfig`) holds what only a table needs: its title, the paper's section of
crelu_repro/evidence/paper/tables.yaml, the metrics and where the paper's number for each is, whether it
prints a Vote, the rows it quotes, and its QUICK overrides. Everything else (rows, datasets, runs, the sweep
folder, the recipe) is the experiment's sweep, composed with the same overrides the sweep got (`Table`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ...core.errors import CreluError
from ...core.paths import CONFIG_DIR, groups
from ...core.results import MAYBE_PERCENT, PERCENT, Result
from ...run.compose import check_override_keys, compose
from ..paper import tables as paper_tables

EXPERIMENTS = CONFIG_DIR / "experiment"


class TableError(CreluError):
    """A table that cannot be planned: an unknown name, a malformed `table:` node, bad overrides."""


@functools.cache
def table_names() -> tuple[str, ...]:
    """Every experiment file with a `table:` node, sorted (files starting with `_` are shared parts)."""
    names = []
    for path in sorted(EXPERIMENTS.glob("*.yaml")):
        if not path.stem.startswith("_") and "table" in (yaml.safe_load(path.read_text()) or {}):
            names.append(path.stem)
    return tuple(names)


def error_fields() -> tuple[str, ...]:
    """The result.json fields a table can show: the error rates (percent)."""
    return tuple(
        f.name for f in dataclasses.fields(Result) if f.metadata["check"] in (PERCENT, MAYBE_PERCENT)
    )


@dataclass(frozen=True)
class Metric:
    key: str  # a result.json error field
    title: str  # the column's title
    paper: str | None  # dotted path under the row in tables.yaml, `{dataset}` filled in


@dataclass(frozen=True)
class TableSpec:
    """The checked `table:` node."""

    name: str
    title: str
    paper: str | None
    metrics: tuple[Metric, ...]
    vote: bool
    quotes: str | None
    quick: tuple[str, ...]  # overrides

    def paper_numbers(self, row: str, dataset: str, metric: Metric) -> dict:
        """The paper's numbers for a cell: {"average"} and, where it prints them, "spread" and "vote"."""
        value: object = paper_tables()[self.paper].get(row, {}) if self.paper and metric.paper else None
        for part in metric.paper.format(dataset=dataset).split(".") if value is not None else ():
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, dict):
            return {k: value.get(k) for k in ("average", "spread", "vote")}
        return {"average": value}

    def paper_params(self, row: str) -> str | None:
        return (paper_tables()[self.paper].get(row) or {}).get("params") if self.paper else None


def spec_of(name: str, node: DictConfig) -> TableSpec:
    """Check a composed `table:` node against what it names (fields, tables.yaml sections)."""
    plain = OmegaConf.to_container(node, resolve=True)
    where = f"configs/experiment/{name}.yaml, table"
    metrics = tuple(Metric(m["key"], m["title"], m["paper"]) for m in plain["metrics"])
    problems = [f"{where}.metrics is empty: a table shows at least one metric"] if not metrics else []
    problems += [
        f"{where}.metrics: {m.key!r} is not an error field of result.json; valid: {', '.join(error_fields())}"
        for m in metrics
        if m.key not in error_fields()
    ]
    if len({m.key for m in metrics}) != len(metrics):
        problems.append(f"{where}.metrics: a field is listed twice")
    for key in ("paper", "quotes"):
        if plain[key] is not None and plain[key] not in paper_tables():
            valid = ", ".join(paper_tables())
            problems.append(f"{where}.{key}: {plain[key]!r} is not a section of tables.yaml; valid: {valid}")
    quick = _flat(plain["quick"])
    problems += [
        f"{where}.quick.{k}: a QUICK value must be a number, a bool or one word"
        for k, v in quick
        if not isinstance(v, int | float | bool) and (not isinstance(v, str) or " " in v or not v)
    ]
    if problems:
        raise TableError("; ".join(problems))
    return TableSpec(
        name, plain["title"], plain["paper"], metrics, bool(plain["vote"]), plain["quotes"],
        tuple(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in quick),
    )  # fmt: skip


def _flat(node: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key, value in node.items():
        out += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [(f"{prefix}{key}", value)]
    return out


def split_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(task overrides, hydra overrides) as Hydra splits a command line. Of Hydra's own, only the sweep
    folder matters to a table (a launcher does not change which runs there are); its run layout is fixed."""
    task, hydra = [], []
    for o in map(str, overrides):
        if o.startswith("-"):
            raise TableError(f"{o!r}: give overrides (key=value), not options, after the table's name")
        key = o.split("=", 1)[0].lstrip("+~")
        if key == "hydra.sweep.subdir":
            raise TableError(
                f"{o!r}: a table's run layout is fixed (crelu_repro/core/paths.py); drop this override"
            )
        if key.startswith(("hydra.", "hydra/")):
            hydra += [o] if key == "hydra.sweep.dir" or key.startswith("hydra.sweeper.params.") else []
        else:
            task.append(o)
    return task, hydra


def compose_experiment(name: str, task: list[str], hydra: list[str]) -> DictConfig:
    """`train.py -m experiment=<name> <overrides>` as Hydra composes it (its hydra node included); a
    composition error is one TableError line."""
    check_override_keys(task, groups())
    try:  # a sweep (`model=relu,crelu`) is the jobs' to apply: Hydra's multirun composes without it too
        plain = [o for o in task if not OverridesParser.create().parse_override(o).is_sweep_override()]
        return compose([*plain, *hydra, "out_dir=."], return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TableError(f"cannot compose experiment={name} with {' '.join(task[1:]) or 'no overrides'}: "
                         f"{first}") from None  # fmt: skip


def check_name(name: str) -> str:
    if name not in table_names():
        raise TableError(
            f"unknown table {name!r}; valid: {', '.join(table_names())} (a table is a "
            "configs/experiment/<name>.yaml with a `table:` node)"
        )
    return name
