"""What is checked before a run reads anything or makes any folder, each problem one line:

- `check_environment`: the variables a run reads (torchrun's, CRELU_FAULT, CRELU_DATA);
- `validate`: every value of a composed config in its declared range (core/schema.py), with the registries'
  keys supplied here, no key the schema lacks, the combinations the ranges cannot express (the device, the
  dataset's own: DatasetEntry.check), then the model's description (its Variant, which the run then
  passes on), its shapes and the memory of one step;
- `check_data`: the dataset is there (or fetched: DatasetEntry.locate), unless the run is already complete.

A process validates a config once: train.py's Hydra hook checks it before Hydra makes the run's folder, and
train() gets the same answer from `_PASSED` (a sweep: once per job, each before any folder is made).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..core import distributed, faults
from ..core.distributed import device_kind, device_problem, launch_env, native_bf16
from ..core.errors import ConfigError, DatasetError
from ..core.paths import MAX_COMPONENT, SHARED, load_group_file, safe_path_component
from ..core.results import RESULT
from ..core.schema import READ_ONLY_BY, Free, Registries, TrainConfig, choice
from ..data import DATASETS
from ..models import FAMILIES, Shapes, Variant, check_variant, label, trace
from ..models.activations import BASES
from ..models.shapes import check_fits


def registries() -> Registries:
    """The keys of each registry a schema range names (`one_of("families")`), as they are now."""
    return {"families": FAMILIES, "bases": BASES, "datasets": DATASETS, "backends": CompileBackends()}


class CompileBackends:
    """torch.compile's backends as a registry's keys, listed only when asked for one that is not built in:
    listing them imports torch._dynamo (about 1 s), which a command that stops at a config error would pay
    for nothing. (A valid config's shape trace imports it anyway: batch norm on the meta device.)"""

    BUILT_IN = ("inductor", "eager")  # the default, and the quick check that a model traces

    def __contains__(self, name: object) -> bool:
        return name in self.BUILT_IN or name in list(self)

    def __iter__(self):
        import torch._dynamo

        return iter(sorted(set(torch._dynamo.list_backends(exclude_tags=())) | set(self.BUILT_IN)))


def check_environment() -> distributed.LaunchEnv:
    """The environment variables a run reads, checked before anything else, one line each: torchrun's
    (distributed.launch_env), CRELU_FAULT, and CRELU_DATA (set but empty, the data root would silently be
    the current folder)."""
    env = distributed.launch_env()
    faults.check()
    data = os.environ.get("CRELU_DATA")
    if data is not None and not data.strip():
        raise ConfigError(
            f"CRELU_DATA={data!r} is set but empty, so the data root would be the current folder. Unset it "
            "(the default is ~/.cache/crelu_repro) or set it to the folder that holds the datasets."
        )
    return env


@dataclass
class _Passed:
    variant: Variant
    shapes: Shapes
    memory_checked: bool


_PASSED: dict[str, _Passed] = {}  # a config's resolved text (+ world size) -> what its checks found


def validate(cfg: DictConfig, world_size: int = 1, memory_check: bool = True) -> Variant:
    """Every value in its schema range, no key the schema lacks, and the combinations; then the model: its
    description (layers, activations, widths, the classifier's outputs), its shapes traced at the dataset's
    image size, and (`memory_check`) whether one training step can fit this machine's device. Raises
    ConfigError listing each problem with its key, value and what is valid. Returns the model's Variant, the
    one description the run passes on. Paths become absolute (a relative one would change meaning with the
    directory). A config this process checked already is not checked again."""
    key = _key(cfg, world_size)
    passed = _PASSED.get(key)
    if passed is None:
        passed = _PASSED[key] = _Passed(*_check(cfg, world_size), memory_checked=False)
    if memory_check and not passed.memory_checked:
        _check_memory(cfg, passed.variant, passed.shapes, world_size)
        passed.memory_checked = True
    cfg.dataset.root = os.path.abspath(os.path.expanduser(str(cfg.dataset.root)))
    return passed.variant


def _key(cfg: DictConfig, world_size: int) -> str:
    """What a check's answer depends on: the resolved config but its run directory (Hydra's hook sees it
    unresolved, train() resolved), and the world size."""
    plain = {
        k: OmegaConf.to_container(v, resolve=True, enum_to_str=True) if isinstance(v, DictConfig) else v
        for k, v in ((k, cfg[k]) for k in cfg if k != "out_dir")
    }
    return json.dumps([plain, world_size], sort_keys=True, default=str)


def _check(cfg: DictConfig, world_size: int) -> tuple[Variant, Shapes]:
    problems = [*_unknown_keys(cfg, TrainConfig), *_out_of_range(cfg, TrainConfig, registries())]
    problems = problems or _combinations(cfg, world_size)  # combinations of values that are each valid
    if problems:
        raise ConfigError(
            "invalid configuration: " + "\n  ".join(["", *problems] if len(problems) > 1 else problems)
        )
    variant = check_variant(cfg.model, cfg.dataset.num_classes)
    return variant, trace(variant, cfg.dataset.num_classes, cfg.dataset.image_size)


def check_data(cfg: DictConfig, run_dir: str | Path | None) -> None:
    """The run's dataset is where its config says (fetched first when it may be downloaded), checked before
    the run's folder is made: a run that cannot read its data leaves nothing behind. A run already complete
    in `run_dir` is skipped without its data, so this asks nothing of it."""
    if run_dir is not None and (Path(run_dir).expanduser() / RESULT).is_file():
        return
    d = cfg.dataset
    root = Path(os.path.expanduser(str(d.root)))
    if root.exists() and not root.is_dir():
        raise DatasetError(
            f"dataset.root={d.root} is a file, not a folder; point dataset.root= (or the CRELU_DATA "
            "variable) at the folder that holds the datasets"
        )
    DATASETS[d.name].locate(d)


def _check_memory(cfg: DictConfig, variant, shapes, world_size: int) -> None:
    """One training step's lower-bound memory against the device this run will use (shapes.py)."""
    t, env, kind = cfg.trainer, launch_env(), device_kind(choice(cfg.trainer.device))
    check_fits(
        shapes.params, shapes.activations, per_process_batch=t.batch_size // world_size,
        bf16=t.bf16 and native_bf16(kind), momentum=cfg.optim.momentum > 0, kind=kind,
        local_rank=env.local_rank, local_world=env.local_world,
        what=f"model {label(variant)} at trainer.batch_size={t.batch_size}",
    )  # fmt: skip


def _out_of_range(cfg: DictConfig, schema: type, known: Registries, prefix: str = "") -> list[str]:
    problems = []
    for f in dataclasses.fields(schema):
        key, node = prefix + f.name, cfg._get_node(f.name)
        if _section(f):
            problems += _out_of_range(cfg[f.name], f.default_factory, known, key + ".")
            continue
        check = f.metadata.get("check")
        if isinstance(check, Free) or node is None or node._is_missing():
            continue
        value = OmegaConf.to_container(node) if isinstance(node, ListConfig) else node._value()
        if not check.ok(value, known):
            problems.append(f"{key}={value!r}: must be {check.describe(known)}")
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
        (not device_problem(choice(t.device)), device_problem(choice(t.device))),
    ]  # fmt: skip
    own = DATASETS[d.name].check(d)  # the dataset's own combinations (DatasetEntry.check)
    return [message for ok, message in checks if not ok] + own + _not_read(cfg)


def _not_read(cfg: DictConfig) -> list[str]:
    """Values that this run's dataset (DatasetEntry.ignores) or scheduler (schema.READ_ONLY_BY) does not
    read, set to something other than its file says: ignored, yet recorded in the run's identity. Only the
    chosen dataset's plug-in is asked (the others are imported for the message alone)."""
    ignored = {f"dataset.{k}": ("dataset.name", None) for k in DATASETS[cfg.dataset.name].ignores}
    problems = []
    for key, (choice_key, readers) in {**ignored, **READ_ONLY_BY}.items():
        section, leaf = key.split(".")
        chosen = choice(OmegaConf.select(cfg, choice_key))
        if readers is not None and chosen in readers:
            continue
        value, default = _plain(OmegaConf.select(cfg, key)), _file_value(section, chosen, leaf)
        if value != default:
            readers = readers or tuple(n for n, e in DATASETS.items() if leaf not in e.ignores)
            problems.append(
                f"{key}={value!r} has no effect with {choice_key}={chosen}: only "
                f"{' and '.join(readers)} read{'s' * (len(readers) == 1)} it (default {default!r}); remove it"
            )
    return problems


def _file_value(group: str, option: str, key: str) -> object:
    """`key` in the option's own file (`_shared.yaml` for an option defined outside the package)."""
    try:
        node = load_group_file(group, option)
    except FileNotFoundError:
        node = load_group_file(group, SHARED)
    return _plain(node[key])


def _plain(value: object) -> object:
    return OmegaConf.to_container(value) if isinstance(value, ListConfig | DictConfig) else value
