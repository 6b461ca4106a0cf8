"""What a table's runs cost: per (row, dataset), a short probe of the trainer's own step on this machine
(`probe.Probe` through `build`), times the run's shape (`eta.RunShape`: epochs x steps, evaluation roughly),
times the planned runs; beside it the reference H200's figure where results/benchmarks.json has one.

The probe reads the dataset's files when they are here (never downloading); CIFAR without its files is
probed on random images in the official counts (the device loader's work does not depend on the pixels);
ImageNet without its files is not probed (decoding JPEGs is part of its step).
"""

from __future__ import annotations

import copy
import gc
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ...core.distributed import Dist
from ...core.errors import DatasetError
from ...data import RawData, Split, Splits, load_splits, split_by_protocol
from ...data.cifar.reader import _OFFICIAL_COUNTS as OFFICIAL_COUNTS
from ...data.cifar.reader import CIFAR_NAMES
from ...run.compose import compose
from ...train.build import build
from ...train.eta import RunShape
from ...train.probe import Probe, outlasting_epochs
from ...train.runtime import select_device, setup_backends
from ..tables import PlannedRun, Table

REFERENCE_CARD = "H200"  # issue 21: the reference GPU whose measured figures the plan quotes


@dataclass
class RowCost:
    """One (row, dataset) of a table: its planned runs and what one of them costs."""

    row: str
    dataset: str
    runs: int
    step_s: float | None = None  # measured on this machine (None: not probed, `why` says why)
    shape: RunShape | None = None
    data: str = ""  # what the probe read
    why: str = ""
    reference_step_s: float | None = None  # the reference card's, from results/benchmarks.json
    reference_why: str = "not measured"

    @property
    def run_hours(self) -> float | None:
        return None if self.step_s is None else self.shape.seconds(self.step_s) / 3600

    @property
    def reference_run_hours(self) -> float | None:
        if self.reference_step_s is None or self.shape is None:
            return None
        return self.shape.seconds(self.reference_step_s) / 3600

    def to_json(self) -> dict:
        shape = None if self.shape is None else self.shape.__dict__
        out = {k: v for k, v in self.__dict__.items() if k != "shape"}
        hours, ref = self.run_hours, self.reference_run_hours
        return {**out, "shape": shape, "run_hours": hours, "hours": _times(self.runs, hours),
                "reference_run_hours": ref, "reference_hours": _times(self.runs, ref)}  # fmt: skip


@dataclass
class TableCost:
    name: str
    title: str
    recipe: str
    rows: list[RowCost] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return sum(r.runs for r in self.rows)

    def hours(self, reference: bool = False) -> float | None:
        """All planned runs' hours (None when a row could not be priced)."""
        parts = [_times(r.runs, r.reference_run_hours if reference else r.run_hours) for r in self.rows]
        return None if any(p is None for p in parts) else sum(parts)

    def run_hours(self, row: str, dataset: str) -> float | None:
        return next((r.run_hours for r in self.rows if (r.row, r.dataset) == (row, dataset)), None)

    def to_json(self) -> dict:
        return {"table": self.name, "title": self.title, "recipe": self.recipe, "runs": self.runs,
                "hours": self.hours(), "reference_hours": self.hours(reference=True),
                "rows": [r.to_json() for r in self.rows]}  # fmt: skip


def _times(n: int, hours: float | None) -> float | None:
    return None if hours is None else n * hours


class Prober:
    """Probes each distinct network, dataset and batch once (`steps` timed steps after `warmup`)."""

    def __init__(self, steps: int, warmup: int, benchmarks: Path | None = None) -> None:
        self.steps, self.warmup = steps, warmup
        self.reference = reference_rows(benchmarks)
        self._step_s: dict[str, float] = {}
        self._splits: dict[str, tuple[Splits, str]] = {}
        self.device: str = ""

    def table(self, table: Table) -> TableCost:
        cost = TableCost(table.name, table.spec.title, table.recipe_text())
        for row in table.rows:
            for dataset in table.datasets:
                first = next((r for r in table.runs if (r.row, r.dataset) == (row, dataset)), None)
                if first is not None:
                    cost.rows.append(self.row(first, table.planned(row, dataset)))
        return cost

    def row(self, run: PlannedRun, runs: int) -> RowCost:
        cfg = compose([*run.overrides, "out_dir=.", "trainer.progress=false"])
        out = RowCost(run.row, run.dataset, runs)
        out.reference_step_s, out.reference_why = reference_step(self.reference, cfg)
        try:
            splits, out.data = self.splits(cfg)
        except DatasetError as err:
            out.why = f"not probed: {err}"
            return out
        dev = select_device(cfg)
        self.device = str(dev)
        setup_backends(cfg, dev)
        probe_cfg = copy.deepcopy(cfg)
        probe_cfg.trainer.epochs = outlasting_epochs(cfg, self.warmup + self.steps, len(splits.train.labels))
        built = build(probe_cfg, dev, Dist(), splits)
        out.shape = RunShape.of(cfg, built)  # the run's own epochs
        key = _probe_key(cfg, dev)
        if key not in self._step_s:
            print(f"probing {run.row} on {run.dataset} ({self.steps} steps on {dev})", file=sys.stderr)
            seconds = Probe(built.loaders.train, self.warmup, self.warmup + self.steps, dev).run(
                built, probe_cfg
            )
            self._step_s[key] = seconds / self.steps
        out.step_s = self._step_s[key]
        del built
        gc.collect()
        return out

    def splits(self, cfg: DictConfig) -> tuple[Splits, str]:
        """The run's splits from the files, never downloading; random CIFAR images when they are missing."""
        key = json.dumps(OmegaConf.to_container(cfg.dataset, resolve=True)) + str(cfg.eval)
        if key not in self._splits:
            dataset = copy.deepcopy(cfg.dataset)
            dataset.download = False
            try:
                self._splits[key] = load_splits(dataset, cfg.eval), f"the files under {dataset.root}"
            except DatasetError:
                if dataset.name not in CIFAR_NAMES:
                    raise
                raw = synthetic_cifar(dataset)
                self._splits[key] = split_by_protocol(raw, dataset, cfg.eval), "random images (no files here)"
        return self._splits[key]


def synthetic_cifar(dataset: DictConfig) -> RawData:
    """Random CIFAR-shaped images in the official counts (limits applied): the probe's stand-in for files."""
    rng = np.random.default_rng(0)
    counts = [
        lim or n for lim, n in zip((dataset.limit_train, dataset.limit_test), OFFICIAL_COUNTS, strict=True)
    ]
    train, test = (
        Split(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), np.arange(n) % dataset.num_classes)
        for n in counts
    )
    return RawData(train, test, int(dataset.num_classes))


def _probe_key(cfg: DictConfig, dev: torch.device) -> str:
    """What a step's time depends on: the network, the image size and classes, the batch and the runtime."""
    t = cfg.trainer
    d = cfg.dataset
    parts = [OmegaConf.to_container(cfg.model, resolve=True), d.name, d.image_size, d.num_classes,
             t.batch_size, t.compile, t.compile_mode, t.bf16, t.channels_last, str(dev)]  # fmt: skip
    return json.dumps(parts, default=str)


def reference_rows(path: Path | None) -> tuple[list[dict], str]:
    """(training rows, why none) of the reference card's benchmark report."""
    if path is None or not path.is_file():
        return [], f"not measured: no {path or 'benchmark report'}"
    try:
        report = json.loads(path.read_text())
        card = str((report.get("machine") or {}).get("card") or "")
        rows = [r for r in report.get("rows", []) if isinstance(r, dict)]
    except (OSError, ValueError, AttributeError) as err:
        return [], f"not measured: {path} unreadable ({type(err).__name__})"
    if REFERENCE_CARD not in card:
        return [], f"not measured: {path} is from {card or 'a CPU run'}, not an {REFERENCE_CARD}"
    return [r for r in rows if r.get("kind") == "train" and r.get("project_img_s") and not r.get("error")], ""


def reference_step(reference: tuple[list[dict], str], cfg: DictConfig) -> tuple[float | None, str]:
    """The reference card's seconds a step for this network, dataset and batch (the compile mode the
    config asks for if measured, else the fastest), or None and why."""
    rows, why = reference
    if why:
        return None, why
    t = cfg.trainer
    same = [r for r in rows if r.get("model") == cfg.model.name and r.get("batch") == t.batch_size
            and str(r.get("dataset", "")).split(" ")[0] == cfg.dataset.name]  # fmt: skip
    if not same:
        return None, f"not measured: no {REFERENCE_CARD} row for {cfg.model.name} at batch {t.batch_size}"
    mode = t.compile_mode if t.compile else "none"
    best = [r for r in same if r.get("compile") == mode] or same
    return t.batch_size / max(r["project_img_s"] for r in best), ""
