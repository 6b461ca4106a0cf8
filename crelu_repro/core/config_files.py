"""The config folder (crelu_repro/configs/, also reachable as ./configs) and its files read without Hydra.

A leaf: it knows files and OmegaConf, nothing of the models or the data, so any layer may ask it where a
group's options are, what a dataset's class count is, or what a group's shared default is.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from .errors import ConfigError

# The configs ship inside the package, so Hydra (train.py) and `build_model` find them in a checkout and in
# an installed copy alike; ./configs in the repository is a link to this folder.
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"  # crelu_repro/configs
SHARED = "_shared"  # a group's file of what all its options share (each lists it in its defaults)


def groups() -> set[str]:
    """The config groups (model, dataset, trainer, ..., experiment, hydra): the folders of CONFIG_DIR."""
    return {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()}


def options(group: str) -> tuple[str, ...]:
    """A group's options, sorted: every file not starting with "_" (`_shared.yaml` is no option)."""
    return tuple(sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml") if p.stem[0] != "_"))


def load_group_file(group: str, name: str) -> DictConfig:
    """One group file with its defaults list applied (entries are files of the same group; own keys last)."""
    path = CONFIG_DIR / group / f"{name}.yaml"
    own = OmegaConf.load(path)
    merged = OmegaConf.create()
    for entry in own.pop("defaults", []):
        if entry != "_self_":
            merged = OmegaConf.merge(merged, load_group_file(group, entry))
    return OmegaConf.merge(merged, own)


def shared_default(group: str, key: str) -> object:
    """The value `configs/<group>/_shared.yaml` gives `key` (what an option that does not set it gets)."""
    value = load_group_file(group, SHARED)[key]
    return OmegaConf.to_container(value) if isinstance(value, DictConfig | ListConfig) else value


def dataset_classes(name: str) -> int:
    """A dataset's class count, from its config (configs/dataset/<name>.yaml is where that fact lives)."""
    if name not in options("dataset"):
        raise ConfigError(f"unknown dataset {name!r}; valid: {', '.join(options('dataset'))}")
    return int(load_group_file("dataset", name).num_classes)


def open_tables(node: DictConfig) -> DictConfig:
    """Let `model.acts` / `model.widths` take new layer keys from an override
    (`'model.acts={conv1-4: crelu}'`), which Hydra's struct mode would refuse; `validate` checks the keys."""
    model = node.model if "model" in node else node
    OmegaConf.set_struct(model.acts, False)
    OmegaConf.set_struct(model.widths, False)
    return node
