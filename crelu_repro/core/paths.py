"""Where things are: the config folder and its files read without Hydra, and where runs go.

The config folder (crelu_repro/configs/, also reachable as ./configs) is read here by any stage that asks
where a group's options are or what a dataset's class count is; this module knows files and OmegaConf,
nothing of the models or the data.

Where runs go: the one home of every run-directory pattern (the YAML files reach these through resolvers).

    single run    outputs/<date>/<time>-<uid>_<model label>_<dataset>          (configs/train.yaml)
    table sweep   multirun/<table>/[<recipe>/]<model label>/<dataset>/s<seed>_f<fold>
                  (table_sweep_dir, then run_subdir)
    other sweeps  <sweep dir>/<job number>_<its overrides, made one safe name>   (sweep_subdir)

A table run's <recipe> folder is there only when overrides change the recipe its experiment file declares
(`trainer.epochs=350 sched=step` -> `sched=step,trainer.epochs=350/`; identity.recipe_overrides picks them),
so runs of two recipes never share a directory. Every component is made of config values passed through
`safe_path_component`, so no value (`../../x`, `/abs`, a label with a slash) can move a run outside its
sweep directory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError

SWEEPS, QUICK_SWEEPS = "multirun", "multirun/quick"  # the sweep roots (QUICK=1: the tables' QUICK recipe)
MAX_COMPONENT = 160  # bytes; file systems allow 255, and a name this long is already unreadable


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


def safe_path_component(value: object) -> str:
    """One harmless path component: '../../etc' -> '_.._etc' (letters, digits and `_.-+@,=` only, no
    leading dot, so no '/', no '..' and no hidden name); a long one is cut and keeps a hash of the whole."""
    text = re.sub(r"[^A-Za-z0-9_.+@,=-]+", "_", str(value)).lstrip(".") or "_"
    if len(text) > MAX_COMPONENT:
        digest = hashlib.sha256(str(value).encode()).hexdigest()[:10]
        text = f"{text[: MAX_COMPONENT - 11]}_{digest}"
    return text


def run_subdir(model_label: str, dataset: str, seed: int, fold: int, recipe: list[str] | tuple = ()) -> str:
    """A table sweep's run: `crelu/cifar10/s0_f3`, under `<recipe>/` when `recipe` (the overrides that
    change the experiment's recipe) is not empty. The tables plan exactly these (evidence/tables/)."""
    run = f"{safe_path_component(model_label)}/{safe_path_component(dataset)}/s{int(seed)}_f{int(fold)}"
    return f"{safe_path_component(','.join(recipe))}/{run}" if recipe else run


def sweep_subdir(job_num: int, overrides: str) -> str:
    """Any other sweep's run: `3_model=crelu,optim.lr=0.1`, one component however odd the overrides."""
    return safe_path_component(f"{int(job_num)}_{overrides}" if overrides else str(int(job_num)))


def table_sweep_dir(table: str, quick: bool = False) -> str:
    """A table's sweep folder: `multirun/convpool` (QUICK=1: `multirun/quick/convpool`), fixed per table so a
    rerun finds (and skips) its finished runs. The YAML (`experiment/_table.yaml`), the Makefile (through
    `python -m crelu_repro.core.paths`) and the tables' CLI all ask here."""
    return f"{QUICK_SWEEPS if quick else SWEEPS}/{safe_path_component(table)}"


if __name__ == "__main__":  # `python -m crelu_repro.core.paths [--quick]`: the sweep root, for the Makefile
    import sys

    print(QUICK_SWEEPS if "--quick" in sys.argv[1:] else SWEEPS)
