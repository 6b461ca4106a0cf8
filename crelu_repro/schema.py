"""The typed schema behind the Hydra configs, with every value's valid range in one place.

Hydra validates the types against these dataclasses at composition (an unknown key, a wrong type or an
unknown enum value fails naming the valid ones). Each field also declares its range: `at_least(1)`,
`between(0, 1, high_open=True)`, `one_of(...)`, or `free(why)` for values with no range (a path, a
name). `config.validate` checks them all before anything is read; a test walks every field with an
out-of-range value, so a field added without a range fails it.

Defaults and their provenance ("paper" or "ours: why") live in the YAML files (crelu_repro/configs/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

COMPILE_MODES = (
    "default",
    "reduce-overhead",
    "max-autotune",
    "max-autotune-no-cudagraphs",
)  # torch.compile's
SEED_MAX = 2**32 - 1  # numpy's and most tools' seed range; the loaders derive per-epoch seeds from it


@dataclass(frozen=True)
class Range:
    """Numbers from `low` to `high` (None: unbounded), each end open or closed; `each`: every list item."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    each: bool = False

    def describe(self) -> str:
        if self.high is None:
            what = f"{'> ' if self.low_open else '>= '}{_num(self.low)}"
        else:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            what = f"in {left}{_num(self.low)}, {_num(self.high)}{right}"
        return ("each item " if self.each else "") + ("an integer " if self.integer else "") + what

    def ok(self, value: Any) -> bool:
        values = list(value) if self.each else [value]
        return all(self._ok_one(v) for v in values)

    def _ok_one(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float) or (self.integer and not isinstance(v, int)):
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
    """One of a fixed list, or of a registry's keys (`choices` a function: read when checked)."""

    choices: tuple | Callable[[], Iterable[str]]

    def valid(self) -> list[str]:
        return list(self.choices() if callable(self.choices) else self.choices)

    def describe(self) -> str:
        return "one of " + ", ".join(map(str, self.valid()))

    def ok(self, value: Any) -> bool:
        return value in self.valid()

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


def one_of(choices: tuple | Callable[[], Iterable[str]], default: Any = MISSING) -> Any:
    return _field(default, OneOf(choices))


def free(why: str, default: Any = MISSING) -> Any:
    return _field(default, Free(why))


def typed(default: Any) -> Any:
    """A bool or an enum: Hydra's type check at composition is its range."""
    return _field(default, Free("its type (bool or enum) is checked by Hydra at composition"))


def _families() -> Iterable[str]:
    from .models import FAMILIES

    return FAMILIES


def _bases() -> Iterable[str]:
    from .activations import BASES

    return BASES


def _datasets() -> Iterable[str]:
    from .datasets import DATASETS

    return DATASETS


def _backends() -> Iterable[str]:
    import torch._dynamo

    return sorted(set(torch._dynamo.list_backends(exclude_tags=())) | {"inductor"})


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
    """A variant's description (configs/model/<name>.yaml; README "Models" lists the keys)."""

    name: str = free("the file's name, or your label; checked to be one safe path component")
    family: str = one_of(_families)  # the layer table (crelu_repro/models/<family>.py)
    acts: dict[str, str] = free(
        "layer -> activation; checked with the description (models.check_variant)", {}
    )
    widths: dict[str, float] = free("layer -> width factor; checked likewise (whole filter counts)", {})
    batchnorm: bool = typed(True)
    crelu_base: str = one_of(_bases, "relu")
    note: str = free("text: what the slides leave ambiguous", "")


@dataclass
class DatasetConfig:
    name: str = one_of(_datasets)
    num_classes: int = at_least(2)
    root: str = free("a folder; checked when the data is read", "${oc.env:CRELU_DATA,'~/.cache/crelu_repro'}")
    download: bool = typed(True)
    limit_train: int = at_least(0, 0)  # first N training images; 0 = all
    limit_test: int = at_least(0, 0)
    flip: bool = typed(True)
    # random crop after zero padding by this many pixels; 0 = no crop. At most 16 (ours): past half a CIFAR
    # image most crops would be padding, and the loader keeps (32 + 2p)^2 pixels per image on the device.
    crop_padding: int = between(0, 16, 0, integer=True)
    image_size: int = between(1, 1024, 32, integer=True)  # CIFAR: 32, fixed; ImageNet: the crop (<= 1024)
    resize: int = between(1, 2048, 256, integer=True)  # ImageNet: the shorter side before cropping
    num_workers: int = between(0, 64, 8, integer=True)  # ImageNet decoding processes per training process
    max_pixels: int = at_least(1, 89_478_485)  # ImageNet: larger images (by their header) count as unreadable


@dataclass
class TrainerConfig:
    epochs: int = at_least(1)
    batch_size: int = at_least(1)  # global, split across ranks
    eval_batch_size: int = at_least(1, 1024)
    device: Device = typed(Device.auto)
    compile: bool = typed(False)
    compile_mode: str = one_of(
        ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"), "default"
    )
    compile_backend: str = one_of(_backends, "inductor")
    bf16: bool = typed(True)
    channels_last: bool = typed(True)
    deterministic: bool = typed(False)
    eval_every: int = at_least(1, 1)
    checkpoint_every_steps: int = at_least(0, 0)
    log_every: int = at_least(1, 50)
    progress: bool = typed(True)
    sync_bn: bool = typed(False)
    label_smoothing: float = between(0, 1, 0.0, high_open=True)


@dataclass
class OptimConfig:
    name: str = one_of(("sgd",), "sgd")
    lr: float = above(0)
    momentum: float = between(0, 1, 0.9, high_open=True)  # > 0 with nesterov (config.validate)
    nesterov: bool = typed(True)
    weight_decay: float = at_least(0, 5e-4, integer=False)
    decay_bn_and_bias: bool = typed(False)


@dataclass
class SchedConfig:
    name: SchedName = typed(MISSING)
    pct_start: float = between(0, 1, 0.3, low_open=True, high_open=True)
    div_factor: float = above(0, 25.0)
    final_div_factor: float = above(0, 1e4)
    cycle_momentum: bool = typed(False)
    milestones: list[float] = _field([0.5, 0.75], Range(0, 1, low_open=True, high_open=True, each=True))
    gamma: float = above(0, 0.1)
    warmup_epochs: float = at_least(0, 0.0, integer=False)


@dataclass
class EvalConfig:
    protocol: Protocol = typed(Protocol.seeds)
    models: int = at_least(1, 10)
    fold: int = at_least(0, 0)  # < folds (config.validate)
    folds: int = at_least(2, 10)
    split_seed: int = between(0, SEED_MAX, 0, integer=True)
    train_error_images: int = at_least(0, 0)  # the final clean train-error pass uses the first N; 0 = all


# Values only some datasets or schedulers read: elsewhere a value other than the default would be ignored yet
# recorded in the run's identity, so config.validate refuses it. key -> (the choice it depends on, readers).
READ_ONLY_BY = {
    "dataset.image_size": ("dataset.name", ("imagenet",)),  # CIFAR images are 32x32, used whole
    "dataset.resize": ("dataset.name", ("imagenet",)),
    "dataset.num_workers": ("dataset.name", ("imagenet",)),
    "dataset.max_pixels": ("dataset.name", ("imagenet",)),
    "dataset.crop_padding": ("dataset.name", ("cifar10", "cifar100")),  # ImageNet crops come from the loader
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

    key: str = MISSING  # a result.json error field (checked by crelu_repro.tables)
    title: str = MISSING
    paper: str | None = None  # dotted path under the row in tables.yaml, `{dataset}` filled in; None: none


@dataclass
class TableConfig:
    """A table's `table:` node (configs/experiment/<table>.yaml); its rows, datasets and runs are the
    experiment's sweep. Checked at composition (types, keys) and by crelu_repro.tables (names)."""

    title: str = MISSING
    paper: str | None = None  # the section of crelu_repro/paper/tables.yaml; None: a study of ours
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
    seed: int = between(0, SEED_MAX, 0, integer=True)
    out_dir: str = free("the run directory (Hydra's, or yours in-process)", "${hydra:runtime.output_dir}")
    table: TableConfig | None = free("a table's node (experiment files); checked by crelu_repro.tables", None)
