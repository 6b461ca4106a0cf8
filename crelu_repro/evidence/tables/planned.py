"""A table's planned runs: its experiment's sweep enumerated as Hydra's sweeper enumerates it, each job
composed to its directory and its identity.

    table = Table("convpool", ["trainer.epochs=350", "sched=step"])   # the overrides `make` gave the sweep
    for run in table.runs: run.row, run.dataset, run.seed, run.fold, run.path, run.identity

Jobs are enumerated as Hydra's basic sweeper enumerates them (`sweep_jobs`: the cartesian product of each
key's values, in order, over the experiment's sweeper params and the overrides; public API only: the
override parser and `hydra.compose`), each composed as Hydra composes it: its config-group choices (and
mappings) through the defaults list, once per distinct choice (the expensive part), then its scalar
`key=value` overrides applied with `OmegaConf.update(..., merge=True)`, Hydra's own way. The directory is
the one `train.py -m` gives the job (`paths.run_subdir` through the same resolver arguments) and the
identity is `identity.identity` of its config: what a run that belongs to this table must have recorded.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ...core.paths import groups, run_subdir
from ...core.schema import choice
from ...models import Variant, variant_of
from ...models.variants import signature
from ...run.checks import validate
from ...run.compose import compose, model_label
from ...run.identity import identity, recipe_overrides
from .spec import TableError, TableSpec, check_name, compose_experiment, spec_of, split_overrides

GROUPS = frozenset(groups())  # model, dataset, ..., experiment


@dataclass(frozen=True, eq=False)
class PlannedRun:
    """One run a table plans, and what its result must say to count."""

    row: str  # the model's label (models.label): the table's row
    dataset: str
    seed: int
    fold: int | None  # the held-out fold under kfold, else None (as result.json records it)
    path: Path  # where the sweep puts it
    identity: dict  # identity.identity of its config
    classes: int  # the dataset's class count (its test scores' width)
    overrides: tuple[str, ...]  # its job's overrides: `config.compose(overrides)` is its config

    @property
    def key(self) -> tuple[str, str, int, int | None]:
        return self.row, self.dataset, self.seed, self.fold


@dataclass(frozen=True, eq=False)
class _Job:  # a planned run without the sweep folder (cached across folders)
    row: str
    dataset: str
    seed: int
    fold: int | None
    subdir: str
    identity: dict
    classes: int
    variant: Variant
    overrides: tuple[str, ...]


class Table:
    """A table as its experiment declares it, composed with `overrides` (those of its sweep: `make
    table-<name> ARGS=...` gives both the same), `quick` adding the table's QUICK overrides first.
    `sweep_dir` replaces the experiment's sweep folder (as `hydra.sweep.dir=` before the overrides)."""

    def __init__(
        self, name: str, overrides: Sequence[str] = (), quick: bool = False, sweep_dir: Path | None = None
    ) -> None:
        self.name, self.quick = check_name(name), quick
        task, hydra = split_overrides(overrides)
        self.args = tuple(task)  # the overrides given (`make ... ARGS=`), without QUICK's
        if sweep_dir is not None:  # first: an override among `overrides` wins, as on train.py's command line
            hydra.insert(0, f"hydra.sweep.dir={sweep_dir}")
        self.experiment = compose_experiment(name, [f"experiment={name}", *task], hydra)
        if quick:
            task = [*spec_of(name, self.experiment.table).quick, *task]
            self.experiment = compose_experiment(name, [f"experiment={name}", *task], hydra)
        self.spec: TableSpec = spec_of(name, self.experiment.table)
        self.overrides = tuple(task)  # the task overrides beyond experiment=<name>, QUICK's included
        self.sweep_dir = Path(str(self.experiment.hydra.sweep.dir))

    @functools.cached_property
    def _jobs(self) -> tuple[_Job, ...]:
        params = OmegaConf.to_container(self.experiment.hydra.sweeper.params or {}, resolve=True)
        return _plan(
            (f"experiment={self.name}", *self.overrides), tuple((k, str(v)) for k, v in params.items())
        )

    @functools.cached_property
    def runs(self) -> list[PlannedRun]:
        """Every planned run, in the sweep's order."""
        return [
            PlannedRun(
                j.row,
                j.dataset,
                j.seed,
                j.fold,
                self.sweep_dir / j.subdir,
                j.identity,
                j.classes,
                j.overrides,
            )
            for j in self._jobs
        ]

    @property
    def rows(self) -> list[str]:
        return list(dict.fromkeys(j.row for j in self._jobs))

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(j.dataset for j in self._jobs))

    def variants(self) -> dict[str, Variant]:
        """row -> the description of its network."""
        return {j.row: j.variant for j in self._jobs}

    @property
    def baseline(self) -> str | None:
        """The first row whose layers are its family's plain table (`relu`, `vgg_relu`, ... or, under
        `model.batchnorm=false`, `relu+nobn`): the row every other is compared with."""
        plain = {f: signature(Variant(f))[1] for f in {v.family for v in self.variants().values()}}
        return next((r for r, v in self.variants().items() if signature(v)[1] == plain[v.family]), None)

    def planned(self, row: str, dataset: str) -> int:
        return sum(1 for j in self._jobs if (j.row, j.dataset) == (row, dataset))

    @property
    def recipe(self) -> list[str]:
        """The overrides that make this recipe differ from the one the experiment file declares."""
        return recipe_overrides(list(self._jobs[0].overrides)) if self._jobs else []

    def recipe_text(self) -> str:
        """The recipe in words, from the composed config of the first planned run."""
        c = compose([*self._jobs[0].overrides, "out_dir=."]) if self._jobs else self.experiment
        d = c.dataset
        subset = f", first {d.limit_train} training / {d.limit_test} test images" if d.limit_train else ""
        return (
            f"{c.trainer.epochs} epochs, batch {c.trainer.batch_size}, {c.optim.name} lr {c.optim.lr}, "
            f"{choice(c.sched.name)} schedule, protocol {choice(c.eval.protocol)}, crop padding "
            f"{d.crop_padding}, flip {d.flip}{subset}"
        )


@functools.lru_cache(maxsize=64)
def _plan(task: tuple[str, ...], params: tuple[tuple[str, str], ...]) -> tuple[_Job, ...]:
    parser = OverridesParser.create()
    try:
        jobs = sweep_jobs(parser.parse_overrides([f"{k}={v}" for k, v in params] + list(task)))
    except HydraException as err:
        raise TableError(f"cannot enumerate the sweep of {task[0]}: {err}") from None
    composed: dict[tuple[str, ...], DictConfig] = {}
    out = []
    for job in jobs:
        parsed = parser.parse_overrides(job)
        groups = tuple(o.input_line for o in parsed if not _is_scalar(o))
        fresh = groups not in composed
        if fresh:  # a copy of the composition: this plan's scalars then go into it
            composed[groups] = copy.deepcopy(_composed(groups))
        cfg = composed[groups]
        for o in filter(_is_scalar, parsed):  # then the scalars, as Hydra applies them: each replaces
            try:
                OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
            except OmegaConfBaseException as err:
                raise TableError(f"cannot apply {o.input_line} to {task[0]}: {err}") from None
        if fresh:  # (the sweep validates every run; the plan, each composition: labels need valid models)
            validate(cfg)
        kfold = choice(cfg.eval.protocol) == "kfold"
        label = model_label(cfg.model)
        subdir = run_subdir(label, cfg.dataset.name, cfg.seed, cfg.eval.fold, recipe_overrides(list(job)))
        out.append(_Job(
            label, str(cfg.dataset.name), int(cfg.seed), int(cfg.eval.fold) if kfold else None, subdir,
            identity(cfg), int(cfg.dataset.num_classes), variant_of(cfg.model), tuple(job),
        ))  # fmt: skip
    return tuple(_dedupe(out, task[0]))


def sweep_jobs(overrides: list[Override]) -> list[list[str]]:
    """Each job's overrides, as Hydra's basic sweeper makes them: per key, its values (a later override of a
    key replaces an earlier one, in the earlier one's place), then their cartesian product in key order."""
    values: dict[str, list[str]] = {}
    for o in overrides:
        key = o.get_key_element()
        if not o.is_sweep_override():
            values[key] = [f"{key}={o.get_value_element_as_str()}"]
        elif o.is_discrete_sweep():
            values[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:  # an interval: Hydra's basic sweeper refuses it too
            raise HydraException(f"{o.input_line}: a sweep over an interval has no list of runs to plan")
    return [list(job) for job in itertools.product(*values.values())]


@functools.lru_cache(maxsize=256)
def _composed(groups: tuple[str, ...]) -> DictConfig:
    """The defaults list (and any mapping merged into it): once per distinct choice in this process, so
    plans that differ in scalars only (QUICK, a recipe) share it."""
    return compose([*groups, "out_dir=."])


def _is_scalar(override: Override) -> bool:
    """A plain `key=<scalar>`: Hydra applies it after composing the config groups, and it replaces what
    was there, so one composed config can take each job's in turn. Anything else (a group choice, a
    mapping or list that merges, `+key`, `~key`, `key+=`) is composed with the job."""
    return (
        override.type == OverrideType.CHANGE
        and override.package is None
        and override.key_or_group not in GROUPS
        and not isinstance(override.value(), dict | list)
    )


def _dedupe(jobs: list[_Job], experiment: str) -> list[_Job]:
    """One job per planned run: two jobs of one network, dataset, seed and fold with one identity are one
    run (the sweep's second finds it finished); with two identities they would be one row's two runs of
    different configurations, which a table cannot show."""
    first: dict[tuple, _Job] = {}
    for j in jobs:
        key = (j.row, j.dataset, j.seed, j.fold)
        if key in first and first[key].identity != j.identity:
            raise TableError(
                f"{experiment}: the sweep plans several runs of {j.row} on {j.dataset} (seed {j.seed}, fold "
                f"{j.fold}) with different configurations; a table's rows are its models: sweep anything "
                "else in a table of its own, or give it as a recipe (ARGS)"
            )
        first.setdefault(key, j)
    return list(first.values())
