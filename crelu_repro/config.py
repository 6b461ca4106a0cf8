"""The typed schema behind the Hydra configs (crelu_repro/configs/, also reachable as ./configs): every YAML
file is validated against these dataclasses, so an unknown key, a wrong type or an unknown enum value fails at
composition with a message naming the valid ones.

Defaults and their provenance ("paper" or "ours: why") live in the YAML files.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from .errors import ConfigError
from .paths import run_subdir, safe_path_component, sweep_subdir

# The configs ship inside the package, so Hydra (train.py) and `build_model` find them in a checkout and in
# an installed copy alike; ./configs in the repository is a link to this folder.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


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

    name: str = MISSING  # the file's name; a changed description gets a derived label (models.label)
    family: str = MISSING  # convpool | vgg | allcnnb: the layer table (crelu_repro/models/<family>.py)
    acts: dict[str, str] = field(default_factory=dict)  # layer selector -> activation; later keys win
    widths: dict[str, float] = field(default_factory=dict)  # layer selector -> width factor
    batchnorm: bool = True
    crelu_base: str = "relu"
    note: str = ""  # what the slides leave ambiguous and how this variant reads it


@dataclass
class DatasetConfig:
    name: str = MISSING
    num_classes: int = MISSING
    root: str = "${oc.env:CRELU_DATA,'~/.cache/crelu_repro'}"
    download: bool = True
    limit_train: int = 0  # first N training images; 0 = all
    limit_test: int = 0
    flip: bool = True
    crop_padding: int = 0  # random crop after zero padding by this many pixels; 0 = no crop
    image_size: int = 32
    resize: int = 256  # ImageNet: the shorter side before cropping
    num_workers: int = 8  # ImageNet decoding processes per training process
    max_pixels: int = 89_478_485  # ImageNet: larger images (by their header) count as unreadable


@dataclass
class TrainerConfig:
    epochs: int = MISSING
    batch_size: int = MISSING  # global, split across ranks
    eval_batch_size: int = 1024
    device: Device = Device.auto
    compile: bool = False
    compile_mode: str = "default"
    compile_backend: str = "inductor"
    bf16: bool = True
    channels_last: bool = True
    deterministic: bool = False
    eval_every: int = 1
    checkpoint_every_steps: int = 0
    log_every: int = 50
    progress: bool = True
    sync_bn: bool = False
    label_smoothing: float = 0.0


@dataclass
class OptimConfig:
    name: str = "sgd"
    lr: float = MISSING
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    decay_bn_and_bias: bool = False


@dataclass
class SchedConfig:
    name: SchedName = MISSING
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    cycle_momentum: bool = False
    milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])
    gamma: float = 0.1
    warmup_epochs: float = 0.0


@dataclass
class EvalConfig:
    protocol: Protocol = Protocol.seeds
    models: int = 10
    fold: int = 0
    folds: int = 10
    split_seed: int = 0
    train_error_images: int = 0  # the final clean train-error pass uses the first N images; 0 = all


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0
    out_dir: str = "${hydra:runtime.output_dir}"


def compose(overrides: list[str] | tuple[str, ...] = (), return_hydra_config: bool = False) -> DictConfig:
    """The train config as `python train.py <overrides>` composes it (without Hydra's runtime node: set
    `out_dir=` to train it in-process). For the benchmark, the tables and the tests."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register()
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app or a test's initialize(): reuse it
        return hydra_compose("train", overrides=list(overrides), return_hydra_config=return_hydra_config)
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides), return_hydra_config=return_hydra_config)


def dataset_classes(name: str) -> int:
    """A dataset's class count, from its config (configs/dataset/<name>.yaml is where that fact lives)."""
    path = CONFIG_DIR / "dataset" / f"{name}.yaml"
    if not path.is_file():
        valid = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise ConfigError(f"unknown dataset {name!r}; valid: {valid}")
    return int(OmegaConf.load(path).num_classes)


def open_tables(node: DictConfig) -> DictConfig:
    """Let `model.acts` / `model.widths` take new layer keys from an override
    (`'model.acts={conv1-4: crelu}'`), which Hydra's struct mode would refuse; `validate` checks the keys."""
    model = node.model if "model" in node else node
    OmegaConf.set_struct(model.acts, False)
    OmegaConf.set_struct(model.widths, False)
    return node


def register() -> None:
    """Store the schema and the resolvers (idempotent; called on import of train.py and by tests)."""
    ConfigStore.instance().store(name="train_schema", node=open_tables(OmegaConf.structured(TrainConfig)))
    if not OmegaConf.has_resolver("safe"):
        # Config values that become path components (run and sweep directories) cannot climb out of them.
        OmegaConf.register_new_resolver("safe", safe_path_component)
    if not OmegaConf.has_resolver("uid"):
        # A short random id that makes run directories unique within one second. Cached: one per process.
        OmegaConf.register_new_resolver("uid", lambda: secrets.token_hex(3), use_cache=True)
    if not OmegaConf.has_resolver("model_label"):
        # What a run's model is, for its directory name: the variant's name or a derived label.
        OmegaConf.register_new_resolver("model_label", model_label)
    if not OmegaConf.has_resolver("run_subdir"):  # the run-directory patterns live in paths.py
        OmegaConf.register_new_resolver("run_subdir", lambda m, d, s, f: run_subdir(model_label(m), d, s, f))
        OmegaConf.register_new_resolver("sweep_subdir", sweep_subdir)


def model_label(model: DictConfig) -> str:
    """`models.label` of a composed `model` node; an invalid description falls back to its name (train()
    then reports what is wrong: a directory name is no place for an error)."""
    from .models import label, variant_of

    try:
        return label(variant_of(model))
    except ConfigError:
        return str(model.get("name", "model"))


def choice(value: Enum | str) -> str:
    """An enum-typed config value as its plain string ('kfold'), whatever form the config holds."""
    return value.value if isinstance(value, Enum) else str(value)


# Keys that may change between a run and its resume without changing what is computed.
NON_IDENTITY_KEYS = (
    "out_dir",
    "dataset.root",
    "dataset.download",
    "trainer.progress",
    "trainer.log_every",
    "trainer.eval_batch_size",
    "trainer.checkpoint_every_steps",  # pausing to save changes nothing that is computed
)


def identity(cfg: DictConfig) -> dict:
    """The resolved config that defines a run's result (paths and cosmetics removed)."""
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    for dotted in NON_IDENTITY_KEYS:
        *parents, leaf = dotted.split(".")
        node = plain
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return plain


def validate(cfg: DictConfig, world_size: int = 1) -> None:
    """Value checks the type system cannot express. Raises ConfigError with what to change."""
    from .models import check_variant

    check_variant(cfg.model, cfg.dataset.num_classes)  # layers, activations, widths: valid ones listed
    t, d, e = cfg.trainer, cfg.dataset, cfg.eval
    name = str(cfg.model.name)
    checks = [
        (
            name == safe_path_component(name),
            f"model.name={name!r}: a model's name becomes a directory name; use letters, digits and _.+@,-",
        ),
        (t.epochs >= 1, f"trainer.epochs={t.epochs} must be >= 1"),
        (t.batch_size >= 1, f"trainer.batch_size={t.batch_size} must be >= 1"),
        (t.eval_batch_size >= 1, f"trainer.eval_batch_size={t.eval_batch_size} must be >= 1"),
        (
            t.batch_size % world_size == 0,
            f"trainer.batch_size={t.batch_size} (global) is not divisible by the {world_size} processes; "
            f"use a multiple of {world_size}",
        ),
        (d.limit_train >= 0 and d.limit_test >= 0, "dataset.limit_train/limit_test must be >= 0 (0 = all)"),
        (d.crop_padding >= 0, f"dataset.crop_padding={d.crop_padding} must be >= 0"),
        (cfg.optim.lr > 0, f"optim.lr={cfg.optim.lr} must be > 0"),
        (e.folds >= 2, f"eval.folds={e.folds} must be >= 2"),
        (0 <= e.fold < e.folds, f"eval.fold={e.fold} must be in [0, {e.folds})"),
        (e.models >= 1, f"eval.models={e.models} must be >= 1"),
        (t.log_every >= 1 and t.eval_every >= 1, "trainer.log_every and trainer.eval_every must be >= 1"),
        (t.checkpoint_every_steps >= 0, "trainer.checkpoint_every_steps must be >= 0 (0 = each epoch)"),
    ]
    problems = [msg for ok, msg in checks if not ok]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def check_override_keys(overrides: list[str], groups: set[str]) -> None:
    """Reject `a.b=v` overrides whose key the schema lacks, naming the valid keys at that level.

    Hydra refuses them too, but without saying what would have been valid. Group selections (`model=x`,
    `hydra/launcher=slurm`), `hydra.*` keys and explicit additions/deletions (`+k=v`, `~k`) pass through.
    """
    schema = OmegaConf.structured(TrainConfig)
    for override in overrides:
        key = override.split("=", 1)[0].strip()
        if "=" not in override or key[:1] in "+~" or "/" in key or key in groups or key.startswith("hydra."):
            continue
        node, path = schema, []
        for part in key.split("."):
            where = ".".join(path) or "the top level"
            if not isinstance(node, DictConfig):
                raise ConfigError(f"unknown key {key!r}: {where} is a value, not a section")
            if part not in list(node.keys()):  # (`in` is False for a key whose value is MISSING)
                raise ConfigError(f"unknown key {key!r}: {where} has {', '.join(node.keys())}")
            node, path = node._get_node(part), [*path, part]
