"""The README is a first page and the docs stay true to the code (issue 26): the README is at most 200 lines
and links every page of docs/; every link between them resolves (file and heading); every project file
they name exists, every `python -m crelu_repro...` they show is a runnable module, and every dotted
`crelu_repro.` name is a module or a name defined in one. Text only: nothing is imported or run."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tests.helpers import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 200

LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
# A file of the project named in the text: only folders whose files are all in the repository (results/ and
# configs/ also hold what a command will write or a reader may add, so they are not checked).
FILE = re.compile(r"(?<![\w/.])((?:crelu_repro|scripts|tests|hydra_plugins)/[\w./-]*)")
# (`crelu_repro...`, a placeholder, is not a name: nothing followed by ".." counts)
BARE_FILE = re.compile(r"(?<![\w/.<-])(\w+\.py)\b")  # `checks.py`, short for a file of the project
RUN_MODULE = re.compile(r"python -m (crelu_repro(?:\.\w+)*)(?!\.\.)")
DOTTED = re.compile(r"(?<![\w/.])(crelu_repro(?:\.\w+)+)(?!\.\.)")


def ids(pages: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO)) for p in pages]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> set[str]:
    found, fenced = set(), False
    for line in page.read_text().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found


def prose(page: Path) -> str:
    return page.read_text()


def test_the_readme_is_a_first_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"


def test_every_docs_page_is_linked_from_the_readme():
    assert DOCS, "no docs/*.md"
    linked = {target.split("#")[0] for target in LINK.findall(README.read_text())}
    assert [p.name for p in DOCS if f"docs/{p.name}" not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_project_file_named_exists(page):
    named = {m.rstrip(".,:;") for m in FILE.findall(prose(page))}
    assert sorted(p for p in named if not (REPO / p).exists()) == []


@cache
def project_file_names() -> set[str]:
    roots = ("crelu_repro", "scripts", "tests", "hydra_plugins")
    return {p.name for root in roots for p in (REPO / root).rglob("*.py")} | {"train.py"}


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_file_named_short_is_a_file_of_the_project(page):
    """A module named by its file alone (`checks.py`) is one of the project's: a renamed module is caught."""
    named = set(BARE_FILE.findall(prose(page)))
    assert sorted(named - project_file_names()) == []


def _module_file(dotted: str) -> Path | None:
    """The file that defines module `dotted` (a package's __init__.py), or None."""
    base = REPO.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    if path.name == "__init__.py" and "_API" in names:  # crelu_repro's lazy names (module __getattr__)
        names |= set(re.findall(r'"(\w+)": "crelu_repro\.', path.read_text()))
    return names


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_python_m_command_is_a_runnable_module(page):
    bad = []
    for module in set(RUN_MODULE.findall(prose(page))):
        base = REPO.joinpath(*module.split("."))
        main = base / "__main__.py"
        script = base.with_suffix(".py")
        if not (main.is_file() or (script.is_file() and "__main__" in script.read_text())):
            bad.append(module)
    assert bad == []


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_dotted_name_is_defined(page):
    """`crelu_repro.train.trainer.train`: the longest prefix that is a module, then one name defined there."""
    bad = []
    for dotted in set(DOTTED.findall(prose(page))):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            module = _module_file(".".join(parts[:cut]))
            if module is not None:
                break
        rest = parts[cut:]
        if module is None or len(rest) > 1 or (rest and rest[0] not in _top_level_names(module)):
            bad.append(dotted)
    assert sorted(bad) == []
