"""The typed schema behind the Hydra configs, with every value's valid range in one place.

Hydra validates the types against these dataclasses at composition (an unknown key, a wrong type or an
unknown enum value fails naming the valid ones). Each field also declares its range: `at_least(1)`,
`between(0, 1, high_open=True)`, `one_of(...)`, or `free(why)` for values with no range (a path, a
name). `run/checks.py validate` checks them all before anything is read; a test walks every field with an
out-of-range value, so a field added without a range fails it.

Defaults and their provenance ("paper" or "ours: why") live in the YAML files (crelu_repro/configs/) and
nowhere else: a field the YAML sets is MISSING here. A leaf: the ranges that are a registry's keys (the
families, the datasets, ...) name the registry, and `run/checks.py validate` supplies its keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

Registries = Mapping[str, Iterable[str]]  # a registry's name -> its keys (run/checks.py registries)
SEED_MAX = 2**32 - 1  # numpy's and most tools' seed range; the loaders derive per-epoch seeds from it


@dataclass(frozen=True)
class Range:
    """Numbers from `low` to `high` (None: unbounded), each end open or closed; `each`: every list item.
    Always finite: no value of ours gives infinity a meaning (`optim.lr=inf` passed `> 0`, then trained on
    NaN)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    each: bool = False

    def describe(self, registries: Registries | None = None) -> str:
        if self.high is None:
            what = f"{'> ' if self.low_open else '>= '}{_num(self.low)}"
        else:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            what = f"in {left}{_num(self.low)}, {_num(self.high)}{right}"
        finite = " and finite" * (self.high is None and not self.integer)  # (else implied by the bounds)
        return ("each item " if self.each else "") + ("an integer " if self.integer else "") + what + finite

    def ok(self, value: Any, registries: Registries | None = None) -> bool:
        values = list(value) if self.each else [value]
        return all(self._ok_one(v) for v in values)

    def _ok_one(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float) or (self.integer and not isinstance(v, int)):
            return False
        if isinstance(v, float) and not math.isfinite(v):  # (an int is finite; nan fails every comparison)
            return False
        low = self.low is None or (v > self.low if self.low_open else v >= self.low)
        return low and (self.high is None or (v < self.high if self.high_open else v <= self.high))

    def outside(self) -> Any:
        """A value just out of range (for the test that walks the schema)."""
        bad = self.low - (0 if self.low_open else 1) if self.low is not None else self.high + 1
        return [bad] if self.each else bad


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed tuple, or of a registry's keys (`choices` the registry's name: its keys are supplied
    when the value is checked, so the schema imports no registry)."""

    choices: tuple | str

    def keys(self, registries: Registries | None = None) -> Iterable[str]:
        """The tuple, or the registry's keys as supplied (a registry may answer `in` without listing them:
        run/checks.py CompileBackends)."""
        return self.choices if isinstance(self.choices, tuple) else (registries or {})[self.choices]

    def valid(self, registries: Registries | None = None) -> list[str]:
        return list(self.keys(registries))

    def describe(self, registries: Registries | None = None) -> str:
        return "one of " + ", ".join(map(str, self.valid(registries)))

    def ok(self, value: Any, registries: Registries | None = None) -> bool:
        return value in self.keys(registries)

    def outside(self) -> Any:
        return "bogus"


@dataclass(frozen=True)
class Free:
    """No range: what the value is and who checks it, if anyone."""

    why: str


def _field(default: Any, check: Range | OneOf | Free) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"check": check})
    return field(default=default, metadata={"check": check})


def at_least(low: float, default: Any = MISSING, integer: bool = True) -> Any:
    return _field(default, Range(low, integer=integer))


def above(low: float, default: Any = MISSING) -> Any:
    return _field(default, Range(low, low_open=True))


def between(low: float, high: float, default: Any = MISSING, **ends: bool) -> Any:
    return _field(default, Range(low, high, **ends))


def one_of(choices: tuple | str, default: Any = MISSING) -> Any:
    return _field(default, OneOf(choices))


def free(why: str, default: Any = MISSING) -> Any:
    return _field(default, Free(why))


def typed(default: Any) -> Any:
    """A bool or an enum: Hydra's type check at composition is its range."""
    return _field(default, Free("its type (bool or enum) is checked by Hydra at composition"))


def choice(value: Enum | str) -> str:
    """An enum-typed config value as its plain string ('kfold'), whatever form the config holds."""
    return value.value if isinstance(value, Enum) else str(value)


class Device(Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Protocol(Enum):
    seeds = "seeds"  # N seeds, each on the full training set
    kfold = "kfold"  # the paper's: model k trains on 9/10, validates on fold k


class SchedName(Enum):
    onecycle = "onecycle"
    cosine = "cosine"
    step = "step"
    constant = "constant"


@dataclass
class ModelConfig:
    """A variant's description (configs/model/<name>.yaml; docs/training.md "Models" lists the keys)."""

    name: str = free("the file's name, or your label; checked to be one safe path component")
    family: str = one_of("families")  # the layer table (crelu_repro/models/<family>.py)
    acts: dict[str, str] = free(
        "layer -> activation; checked with the description (models.check_variant)", {}
    )  # (an empty table: only the layers a variant changes are named)
    widths: dict[str, float] = free("layer -> width factor; checked likewise (whole filter counts)", {})
    batchnorm: bool = typed(MISSING)
    crelu_base: str = one_of("bases")
    note: str = free("text: what the slides leave ambiguous", "")


@dataclass
class DatasetConfig:
    name: str = one_of("datasets")
    num_classes: int = at_least(2)
    root: str = free("a folder; checked when the data is read")
    download: bool = typed(MISSING)
    limit_train: int = at_least(0)  # first N training images; 0 = all
    limit_test: int = at_least(0)
    flip: bool = typed(MISSING)
    # random crop after zero padding by this many pixels; 0 = no crop. At most 16 (ours): past half a CIFAR
    # image most crops would be padding, and the loader keeps (32 + 2p)^2 pixels per image on the device.
    crop_padding: int = between(0, 16, integer=True)
    image_size: int = between(1, 1024, integer=True)  # CIFAR: 32, fixed; ImageNet: the crop (<= 1024)
    resize: int = between(1, 2048, integer=True)  # ImageNet: the shorter side before cropping
    num_workers: int = between(0, 64, integer=True)  # ImageNet decoding processes per training process
    max_pixels: int = at_least(1)  # ImageNet: larger images (by their header) count as unreadable


@dataclass
class TrainerConfig:
    epochs: int = at_least(1)
    batch_size: int = at_least(1)  # global, split across ranks
    eval_batch_size: int = at_least(1)
    device: Device = typed(MISSING)
    compile: bool = typed(MISSING)
    compile_mode: str = one_of(("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"))
    compile_backend: str = one_of("backends")
    bf16: bool = typed(MISSING)
    channels_last: bool = typed(MISSING)
    deterministic: bool = typed(MISSING)
    eval_every: int = at_least(1)
    checkpoint_every_steps: int = at_least(0)
    log_every: int = at_least(1)
    progress: bool = typed(MISSING)
    sync_bn: bool = typed(MISSING)
    label_smoothing: float = between(0, 1, high_open=True)


@dataclass
class OptimConfig:
    name: str = one_of(("sgd",))
    lr: float = above(0)
    momentum: float = between(0, 1, high_open=True)  # > 0 with nesterov (run/checks.py validate)
    nesterov: bool = typed(MISSING)
    weight_decay: float = at_least(0, integer=False)
    decay_bn_and_bias: bool = typed(MISSING)


@dataclass
class SchedConfig:
    name: SchedName = typed(MISSING)
    pct_start: float = between(0, 1, low_open=True, high_open=True)
    div_factor: float = above(0)
    final_div_factor: float = above(0)
    cycle_momentum: bool = typed(MISSING)
    milestones: list[float] = _field(MISSING, Range(0, 1, low_open=True, high_open=True, each=True))
    gamma: float = above(0)
    warmup_epochs: float = at_least(0, integer=False)


@dataclass
class EvalConfig:
    protocol: Protocol = typed(MISSING)
    models: int = at_least(1)
    fold: int = at_least(0)  # < folds (run/checks.py validate)
    folds: int = at_least(2)
    split_seed: int = between(0, SEED_MAX, integer=True)
    train_error_images: int = at_least(0)  # the final clean train-error pass uses the first N; 0 = all


# Values only some schedulers read: elsewhere a value other than the default would be ignored yet recorded in
# the run's identity, so run/checks.py validate refuses it. key -> (the choice it depends on, readers). (The
# datasets say themselves which keys they ignore: DatasetEntry.ignores.)
READ_ONLY_BY = {
    "sched.pct_start": ("sched.name", ("onecycle",)),
    "sched.div_factor": ("sched.name", ("onecycle",)),
    "sched.final_div_factor": ("sched.name", ("onecycle",)),
    "sched.cycle_momentum": ("sched.name", ("onecycle",)),
    "sched.milestones": ("sched.name", ("step",)),
    "sched.gamma": ("sched.name", ("step",)),
    "sched.warmup_epochs": ("sched.name", ("cosine",)),
}


@dataclass
class MetricConfig:
    """One column group of a table: a result.json error field, its title, where the paper's number is."""

    key: str = MISSING  # a result.json error field (checked by crelu_repro.evidence.tables)
    title: str = MISSING
    paper: str | None = None  # dotted path under the row in tables.yaml, `{dataset}` filled in; None: none


@dataclass
class TableConfig:
    """A table's `table:` node (configs/experiment/<table>.yaml); its rows, datasets and runs are the
    experiment's sweep. Checked at composition (types, keys) and by crelu_repro.evidence.tables (names)."""

    title: str = MISSING
    paper: str | None = None  # the section of crelu_repro/evidence/paper/tables.yaml; None: a study of ours
    metrics: list[MetricConfig] = field(default_factory=list)  # the first gets Average ± std and Vote
    vote: bool = False  # a Vote column (the paper prints one)
    quotes: str | None = None  # a tables.yaml section of rows the paper quotes (static references)
    quick: dict[str, Any] = field(default_factory=dict)  # QUICK=1: overrides as a nested mapping


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = between(0, SEED_MAX, integer=True)
    out_dir: str = free("the run directory (Hydra's, or yours in-process)", "${hydra:runtime.output_dir}")
    table: TableConfig | None = free(
        "a table's node (experiment files); checked by crelu_repro.evidence.tables", None
    )
