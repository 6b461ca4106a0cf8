"""A run's identity: what defines its result (the resolved config without paths and cosmetics, its model as
the network it builds), and which of a table job's overrides are its recipe.
"""

from __future__ import annotations

import contextlib
import copy

from omegaconf import DictConfig, OmegaConf

from ..core.errors import ConfigError
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
