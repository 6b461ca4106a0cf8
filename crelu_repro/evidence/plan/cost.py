"""What a table's runs cost: per (row, dataset), a step time read from a figure (`figures`: the chosen card's
benchmark row, a stored probe taken on that card, else an estimate from MACs; and beside it this machine's
stored probe, `probes`), times the run's shape (`eta.RunShape`: epochs x steps, evaluation roughly), times
the planned runs. Nothing here builds a network or reads a dataset: the shape comes from the config and
the datasets' official image counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from omegaconf import DictConfig

from ...core.schema import choice
from ...data.cifar.reader import _OFFICIAL_COUNTS as CIFAR_COUNTS
from ...run.compose import compose
from ...train.eta import RunShape
from ...train.probe import step_key
from ..tables import Table
from .figures import Benchmarks, Figure, card_figure
from .probes import ProbeStore

# (training, test) images of the full datasets: a plan prices the real runs, whatever files are here
OFFICIAL_COUNTS = {"cifar10": CIFAR_COUNTS, "cifar100": CIFAR_COUNTS, "imagenet": (1_281_167, 50_000)}
NOT_PROBED = "not probed here (make plan PROBE=1)"


@dataclass
class PlannedRow:
    """A (row, dataset) of a table: its planned runs and the config of the first (the others differ in
    seed or fold only, which a step's time does not depend on)."""

    row: str
    dataset: str
    runs: int
    cfg: DictConfig


def planned_rows(table: Table) -> list[PlannedRow]:
    out = []
    for row in table.rows:
        for dataset in table.datasets:
            first = next((r for r in table.runs if (r.row, r.dataset) == (row, dataset)), None)
            if first is not None:
                cfg = compose([*first.overrides, "out_dir=.", "trainer.progress=false"])
                out.append(PlannedRow(row, dataset, table.planned(row, dataset), cfg))
    return out


def run_shape(cfg: DictConfig) -> RunShape:
    """The run's shape from its config and the official counts (limits applied; kfold holds out fold
    `eval.fold` of a round-robin deal, as data.kfold_indices does; batches drop the last)."""
    d, e, t = cfg.dataset, cfg.eval, cfg.trainer
    train, test = (min(lim, n) if lim else n for lim, n in zip((d.limit_train, d.limit_test),
                   OFFICIAL_COUNTS[str(d.name)], strict=True))  # fmt: skip
    val = len(range(int(e.fold), train, int(e.folds))) if choice(e.protocol) == "kfold" else 0
    train -= val
    train_eval = min(int(e.train_error_images), train) if e.train_error_images else train
    # RunShape.of reads only the loaders' lengths and the steps an epoch: counts stand in for them
    loaders = SimpleNamespace(val=range(val) if val else None, test=range(test), train_eval=range(train_eval))
    return RunShape.of(cfg, SimpleNamespace(loaders=loaders, steps_per_epoch=train // int(t.batch_size)))


@dataclass
class RowCost:
    """One (row, dataset) of a table: its planned runs, their shape, and a step's time on the chosen card
    and here."""

    row: str
    dataset: str
    runs: int
    shape: RunShape
    key: dict  # probe.step_key: what the step's time depends on
    card: Figure
    here: Figure | None = None
    here_why: str = NOT_PROBED

    def run_hours(self, here: bool = False) -> float | None:
        figure = self.here if here else self.card
        return None if figure is None else self.shape.seconds(figure.step_s) / 3600

    def hours(self, here: bool = False) -> float | None:
        one = self.run_hours(here)
        return None if one is None else self.runs * one

    def to_json(self) -> dict:
        here = None if self.here is None else self.here.__dict__
        return {"row": self.row, "dataset": self.dataset, "runs": self.runs, "step": self.key,
                "shape": self.shape.__dict__, "card": {**self.card.__dict__, "run_hours": self.run_hours(),
                "hours": self.hours()}, "here": here and {**here, "run_hours": self.run_hours(True),
                "hours": self.hours(True)}, "here_why": "" if self.here else self.here_why}  # fmt: skip


@dataclass
class TableCost:
    name: str
    title: str
    recipe: str
    rows: list[RowCost] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return sum(r.runs for r in self.rows)

    def hours(self, here: bool = False) -> float | None:
        """All planned runs' hours (None when a row has no figure: here, a row not probed)."""
        parts = [r.hours(here) for r in self.rows]
        return None if any(p is None for p in parts) else sum(parts)

    def run_hours(self, row: str, dataset: str) -> float | None:
        """One run's hours on the chosen card (what the claims are priced with)."""
        return next((r.run_hours() for r in self.rows if (r.row, r.dataset) == (row, dataset)), None)

    def sources(self) -> list[str]:
        """The kinds of figure the card's hours rest on ("benchmark", "estimate", ...), each once."""
        return list(dict.fromkeys(r.card.kind for r in self.rows))

    def to_json(self) -> dict:
        return {"table": self.name, "title": self.title, "recipe": self.recipe, "runs": self.runs,
                "hours": self.hours(), "sources": self.sources(), "hours_here": self.hours(here=True),
                "rows": [r.to_json() for r in self.rows]}  # fmt: skip


def price(table: Table, rows: list[PlannedRow], bench: Benchmarks, store: ProbeStore,
          unprobed: dict[str, str]) -> TableCost:  # fmt: skip
    """`table`'s cost from read figures; `unprobed`: why a step key has no probe (by `store.name`)."""
    cost = TableCost(table.name, table.spec.title, table.recipe_text())
    for p in rows:
        here = store.find(p.cfg)
        card = card_figure(p.cfg, bench, here, store.device(p.cfg))
        why = unprobed.get(store.name(p.cfg), NOT_PROBED)
        shape, key = run_shape(p.cfg), step_key(p.cfg)
        cost.rows.append(RowCost(p.row, p.dataset, p.runs, shape, key, card, here, why))
    return cost
