"""Where runs go: the one home of every run-directory pattern (the YAML files reach these through resolvers).

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

SWEEPS, QUICK_SWEEPS = "multirun", "multirun/quick"  # the sweep roots (QUICK=1: the tables' QUICK recipe)
MAX_COMPONENT = 160  # bytes; file systems allow 255, and a name this long is already unreadable


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
