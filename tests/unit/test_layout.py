"""The package's shape, kept: its folders are the pipeline's stages, imports only go down them, and no
private Hydra outside the sweeper plugin (README "Stages"; issue 26). What needs a fresh interpreter (the
modules a CIFAR run reads, the lazy API) is tests/process/test_layout.py."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "crelu_repro"
# The stages, in the pipeline's order: a module may import its own stage and the ones before it. `params`
# is the door DESIGN.md fixes (`python -m crelu_repro.params`); it only hands the evidence stage's table on.
STAGES = ["core", "models", "data", "run", "train", "evidence", "params"]


def test_nothing_lies_flat_at_the_top_and_every_folder_is_a_stage():
    flat = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert flat == [], f"modules outside a stage: {flat}"
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert sorted(folders) == sorted(STAGES) and len(STAGES) <= 8


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every project import in a module, function-level ones included."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names] or [(node.lineno, base)]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, m) for line, m in found if m.startswith("crelu_repro.")]


def test_imports_only_go_down_the_stages():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2:
            continue
        for line, target in _imports(path):
            stage = target.split(".")[1]
            if stage in STAGES and STAGES.index(stage) > STAGES.index(parts[0]):
                upward.append(f"{path.relative_to(REPO)}:{line} ({parts[0]}) imports {target}")
    assert upward == []


def test_private_hydra_only_in_the_sweeper_plugin():
    users = [
        str(p.relative_to(REPO))
        for p in [*PACKAGE.rglob("*.py"), REPO / "train.py", *(REPO / "scripts").glob("*.py")]
        if "hydra._internal" in p.read_text()
    ]
    assert users == []
