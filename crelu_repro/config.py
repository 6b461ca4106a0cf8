"""The Hydra configs (crelu_repro/configs/, also reachable as ./configs): composing them, registering the
schema (schema.py) and resolvers, a run's identity, and `validate`: every value in its declared range and
the combinations the ranges cannot express, before anything is read.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import secrets
from enum import Enum
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError
from .paths import MAX_COMPONENT, run_subdir, safe_path_component, sweep_subdir
from .schema import READ_ONLY_BY, DatasetConfig, Free, ModelConfig, TrainConfig  # noqa: F401  (the schema)

# The configs ship inside the package, so Hydra (train.py) and `build_model` find them in a checkout and in
# an installed copy alike; ./configs in the repository is a link to this folder.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


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
        OmegaConf.register_new_resolver("run_subdir", _table_run_subdir)
        OmegaConf.register_new_resolver("sweep_subdir", sweep_subdir)


def _table_run_subdir(model: DictConfig, dataset: str, seed: int, fold: int, task: object = ()) -> str:
    """A table run's folder: `task` is the job's overrides (hydra.overrides.task), whose recipe part names
    a folder of its own (see `recipe_overrides`)."""
    return run_subdir(model_label(model), dataset, seed, fold, recipe_overrides(list(task or ())))


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
    "eval.models",  # how many runs a sweep plans; no run computes anything from it
    "table",  # how a table shows its runs (configs/experiment/<table>.yaml)
)


def identity(cfg: DictConfig) -> dict:
    """What defines a run's result: the resolved config without paths and cosmetics, its model as the
    network it builds (`canonical_identity`)."""
    return canonical_identity(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))


def canonical_identity(plain: dict) -> dict:
    """An identity (a resolved config as plain JSON, or one stored by an older version) with only what
    changes the computation: NON_IDENTITY_KEYS dropped, the model as `models.variants.network` describes
    it (no name or note; CReLU's base only where CReLU is used). So two configurations that compute the
    same thing have one identity, and any two that differ differ here and in their run directory (a
    network's label carries what `network` holds). A model node that is not a description is kept as it
    is: compared with a real one it differs, and the difference is shown."""
    from .models.variants import network, variant_of

    if not isinstance(plain, dict):  # not an identity at all: compared, it differs
        return plain
    plain = copy.deepcopy(plain)
    for dotted in NON_IDENTITY_KEYS:
        *parents, leaf = dotted.split(".")
        node = plain
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    model = plain.get("model")
    if isinstance(model, dict) and all(isinstance(model.get(k) or {}, dict) for k in ("acts", "widths")):
        # Not a description we can build (an unknown family, layer or activation): kept as it is. A stored
        # canonical node has crelu_base null where no layer uses it.
        with contextlib.suppress(ConfigError):
            plain["model"] = network(variant_of({**model, "crelu_base": model.get("crelu_base") or "relu"}))
    return plain


# Overrides whose values name a table run's own folders (<label>/<dataset>/s<seed>_f<fold>), or that pick
# the table itself; every other override that changes the identity is the run's recipe.
SWEEP_AXES = ("experiment", "model", "dataset", "dataset.name", "seed", "eval.fold")


def recipe_overrides(task_overrides: list[str]) -> list[str]:
    """The overrides of a table job that change its recipe (what it computes beyond its model, dataset,
    seed and fold), one per key (the last wins, as in Hydra's sweeper), sorted: `["sched=step",
    "trainer.epochs=350"]`. Empty for the recipe the experiment file declares."""
    kept = {}
    for override in task_overrides:
        key = str(override).split("=", 1)[0].lstrip("+~").split("@", 1)[0]
        if key in SWEEP_AXES or key in NON_IDENTITY_KEYS or key.startswith(("model.", "hydra.", "table.")):
            continue
        kept[key] = str(override)
    return [kept[k] for k in sorted(kept)]


def validate(cfg: DictConfig, world_size: int = 1) -> None:
    """Every value in its schema range, no key the schema lacks, and the combinations; then the model: its
    description (layers, activations, widths, the classifier's outputs), its shapes traced at the dataset's
    image size, and whether one training step can fit the device. Raises ConfigError listing each problem
    with its key, value and what is valid. Paths become absolute (a relative one would change meaning with
    the directory)."""
    from .models import check_variant, trace

    problems = [*_unknown_keys(cfg, TrainConfig), *_out_of_range(cfg, TrainConfig)]
    problems = problems or _combinations(cfg, world_size)  # combinations of values that are each valid
    if problems:
        raise ConfigError(
            "invalid configuration: " + "\n  ".join(["", *problems] if len(problems) > 1 else problems)
        )
    variant = check_variant(cfg.model, cfg.dataset.num_classes)
    shapes = trace(variant, cfg.dataset.num_classes, cfg.dataset.image_size)
    _check_memory(cfg, variant, shapes, world_size)
    cfg.dataset.root = os.path.abspath(os.path.expanduser(str(cfg.dataset.root)))


def _check_memory(cfg: DictConfig, variant, shapes, world_size: int) -> None:
    """One training step's lower-bound memory against the device this run will use (memory.py)."""
    from . import memory
    from .distributed import launch_env
    from .models import label

    t, env = cfg.trainer, launch_env()
    memory.check_fits(
        shapes.params, shapes.activations, per_process_batch=t.batch_size // world_size, bf16=t.bf16,
        momentum=cfg.optim.momentum > 0, kind=memory.device_kind(choice(t.device)), local_rank=env.local_rank,
        local_world=env.local_world, what=f"model {label(variant)} at trainer.batch_size={t.batch_size}",
    )  # fmt: skip


def _out_of_range(cfg: DictConfig, schema: type, prefix: str = "") -> list[str]:
    problems = []
    for f in dataclasses.fields(schema):
        key, node = prefix + f.name, cfg._get_node(f.name)
        if _section(f):
            problems += _out_of_range(cfg[f.name], f.default_factory, key + ".")
            continue
        check = f.metadata.get("check")
        if isinstance(check, Free) or node is None or node._is_missing():
            continue
        value = OmegaConf.to_container(node) if isinstance(node, ListConfig) else node._value()
        if not check.ok(value):
            problems.append(f"{key}={value!r}: must be {check.describe()}")
    return problems


def _unknown_keys(cfg: DictConfig, schema: type, prefix: str = "") -> list[str]:
    """Keys added with `+` (`+trainer.foo=1`): Hydra lets them in, nothing would read them."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    where = prefix.rstrip(".") or "the top level"
    problems = [
        f"{prefix}{k}: unknown key (added with +?); {where} has {', '.join(fields)}"
        for k in cfg
        if k not in fields
    ]
    for name, f in fields.items():
        if _section(f):
            problems += _unknown_keys(cfg[name], f.default_factory, f"{prefix}{name}.")
    return problems


def _section(f: dataclasses.Field) -> bool:
    """A nested section of the schema (trainer, optim, ...), not a value."""
    return f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory)


def _combinations(cfg: DictConfig, world_size: int) -> list[str]:
    t, d, e, o = cfg.trainer, cfg.dataset, cfg.eval, cfg.optim
    name = str(cfg.model.name)
    checks = [
        (len(name) <= MAX_COMPONENT, f"model.name is {len(name)} characters long: a model's name becomes a "
         f"directory name, of at most {MAX_COMPONENT} characters; give a shorter one"),
        (len(name) > MAX_COMPONENT or name == safe_path_component(name), f"model.name={name!r}: a model's "
         "name becomes a directory name; use letters, digits and _.+@,=-"),
        (t.batch_size % world_size == 0, f"trainer.batch_size={t.batch_size} (global) is not divisible by "
         f"the {world_size} processes; use a multiple of {world_size}"),
        (e.fold < e.folds, f"eval.fold={e.fold}: must be in [0, eval.folds={e.folds})"),
        (not d.limit_train or e.folds <= d.limit_train, f"eval.folds={e.folds}: more folds than the "
         f"dataset.limit_train={d.limit_train} training images; some would hold none"),
        (o.momentum > 0 or not o.nesterov, f"optim.momentum={o.momentum}: Nesterov needs momentum > 0 "
         "(or set optim.nesterov=false)"),
        (d.name != "imagenet" or d.resize >= d.image_size, f"dataset.resize={d.resize}: must be >= "
         f"dataset.image_size={d.image_size} (crops are cut from the resized image)"),
    ]  # fmt: skip
    return [message for ok, message in checks if not ok] + _not_read(cfg)


def _not_read(cfg: DictConfig) -> list[str]:
    """Values that this run's dataset or scheduler does not read (schema.READ_ONLY_BY), set to something
    other than their default: they would be ignored, yet recorded in the run's identity."""
    problems = []
    for key, (choice_key, readers) in READ_ONLY_BY.items():
        section, leaf = key.split(".")
        value, default = OmegaConf.select(cfg, key), _default(section, leaf)
        chosen = choice(OmegaConf.select(cfg, choice_key))
        if chosen not in readers and _plain(value) != default:
            problems.append(
                f"{key}={_plain(value)!r} has no effect with {choice_key}={chosen}: only "
                f"{' and '.join(readers)} read{'s' * (len(readers) == 1)} it (default {default!r}); remove it"
            )
    return problems


def _default(section: str, leaf: str) -> object:
    schema = {f.name: f.default_factory for f in dataclasses.fields(TrainConfig)}[section]
    f = {f.name: f for f in dataclasses.fields(schema)}[leaf]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _plain(value: object) -> object:
    return OmegaConf.to_container(value) if isinstance(value, ListConfig) else value


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
