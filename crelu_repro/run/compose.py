"""Composing the Hydra configs (crelu_repro/configs/): the schema (schema.py) and the resolvers registered,
`compose` for in-process runs, and overrides checked by key. What a composed config may hold is checked by
`run/checks.py validate`; what defines a run's result is `identity.py`.
"""

from __future__ import annotations

import re
import secrets

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from ..core.errors import ConfigError
from ..core.paths import (
    CONFIG_DIR,
    SWEEPS,
    open_tables,
    run_subdir,
    safe_path_component,
    sweep_subdir,
    table_sweep_dir,
)
from ..core.schema import TrainConfig
from ..models import label, variant_of
from .identity import recipe_overrides


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
        OmegaConf.register_new_resolver("table_sweep_dir", table_sweep_dir)
        OmegaConf.register_new_resolver("sweeps", lambda: SWEEPS)


def _table_run_subdir(model: DictConfig, dataset: str, seed: int, fold: int, task: object = ()) -> str:
    """A table run's folder: `task` is the job's overrides (hydra.overrides.task), whose recipe part names
    a folder of its own (see `recipe_overrides`)."""
    return run_subdir(model_label(model), dataset, seed, fold, recipe_overrides(list(task or ())))


def model_label(model: DictConfig) -> str:
    """`models.label` of a composed `model` node; an invalid description falls back to its name (train()
    then reports what is wrong: a directory name is no place for an error)."""
    try:
        return label(variant_of(model))
    except ConfigError:
        return str(model.get("name", "model"))


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


# Hydra's own command-line flags that take a value (hydra.main's parser, Hydra 1.3): their values are not
# overrides. `--info` takes one only when it is a topic.
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun"}  # fmt: skip
_INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def command_line_overrides(argv: list[str]) -> list[str]:
    """The overrides of a `train.py` command line as Hydra will read them (the values of --cfg,
    --config-name... are not overrides), each checked against Hydra's override grammar.

    Hydra's answer to a grammar error is four lines and exit 1; `dataset.root=my data` unquoted reaches it as
    `dataset.root=my` and `data`. Here it is one ConfigError that says how to quote."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    overrides, i = [], 0
    while i < len(argv):
        arg, nxt = argv[i], argv[i + 1] if i + 1 < len(argv) else None
        if not arg.startswith("-"):
            overrides.append(arg)
        elif "=" not in arg and (
            arg in _FLAGS_WITH_VALUE or (arg in ("--info", "-i") and nxt in _INFO_TOPICS)
        ):
            i += 1  # its value
        i += 1
    parser = OverridesParser.create()
    for i, override in enumerate(overrides):
        try:
            parser.parse_overrides([override])
        except OverrideParseException as err:
            raise ConfigError(_grammar_error(override, overrides[i - 1] if i else "", str(err))) from None
    return overrides


def _grammar_error(override: str, before: str, hydra_says: str) -> str:
    """One line: which override, what Hydra found, and the override quoted as it would parse."""
    if "=" not in override and "=" in before:  # the shell split a value at a space
        key, value = before.split("=", 1)
        return (
            f"cannot read the override {override!r} (no `=`): did the shell split `{before} {override}` at "
            f"its space? Quote the value for Hydra and the whole override for the shell: "
            f"{_quoted(key, f'{value} {override}')}"
        )
    lines = [line.strip() for line in hydra_says.splitlines()]
    why = "; ".join(ln for ln in lines if ln.strip("^") and not ln.startswith(("See https", "Error parsing")))
    key, _, value = override.partition("=")
    return (
        f"cannot read the override {override!r} ({why}). Quote a value with spaces or any of ()[]{{}},=\"' "
        f"for Hydra and the whole override for the shell: {_quoted(key, value)} (Hydra's override grammar: "
        "https://hydra.cc/docs/advanced/override_grammar/basic/)"
    )


def _quoted(key: str, value: str) -> str:
    """`key=value` with the value in double quotes for Hydra (which escapes a `"`, and the backslashes
    before one or at the end, with a backslash), all in single quotes for the shell (`'` becomes `'\\''`)."""
    escaped = re.sub(r'(\\*)("|$)', lambda m: m[1] * 2 + "\\" * bool(m[2]) + m[2], value)
    return "'" + f'{key}="{escaped}"'.replace("'", "'\\''") + "'"
