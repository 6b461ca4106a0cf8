"""A run's identity and provenance: what defines its result (the resolved config without paths and
cosmetics, its model as the network it builds), which of a table job's overrides are its recipe, where a
run came from (the code version, `git describe`) and how two configs differ (a resume, a directory reused).
"""

from __future__ import annotations

import contextlib
import copy
import subprocess
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from .. import __version__
from ..core.errors import ConfigError
from ..models import Variant
from ..models.variants import network, variant_of

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


def identity(cfg: DictConfig, variant: Variant | None = None) -> dict:
    """What defines a run's result: the resolved config without paths and cosmetics, its model as the
    network it builds (`canonical_identity`). `variant`: the run's model as validation described it (the
    trainer passes it on); else `cfg.model`'s."""
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    if variant is None:
        return canonical_identity(plain)
    return canonical_identity({**plain, "model": None}) | {"model": network(variant)}


def canonical_identity(plain: dict) -> dict:
    """An identity (a resolved config as plain JSON, or one stored by an older version) with only what
    changes the computation: NON_IDENTITY_KEYS dropped, the model as `models.variants.network` describes
    it (no name or note; CReLU's base only where CReLU is used). So two configurations that compute the
    same thing have one identity, and any two that differ differ here and in their run directory (a
    network's label carries what `network` holds). A model node that is not a description is kept as it
    is: compared with a real one it differs, and the difference is shown."""
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


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two nested config dicts: ['trainer.epochs: 10 -> 20']."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return diffs


def check_same_config(run_dir: Path, stored: dict, current: dict, what: str) -> None:
    diffs = config_diff(stored, current)
    if diffs:
        raise ConfigError(
            f"{run_dir} holds the {what} of a different configuration, so it will not be resumed or "
            f"overwritten:\n  " + "\n  ".join(diffs[:12]) + "\nRun with a new hydra.run.dir, or move that "
            "directory away."
        )


def code_version() -> str:
    """`git describe` of the source tree (with -dirty), or the package version outside a checkout."""
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"crelu_repro {__version__} (no git checkout)"
