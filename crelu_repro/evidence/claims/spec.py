"""The claims as data: `crelu_repro/evidence/paper/claims.yaml` (its header documents the fields), loaded and
checked, so that a typo in a model, metric or direction is one clear message instead of a silent "not run"."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...core.errors import CreluError
from ...models import FAMILIES, MODEL_NAMES, Variant
from ...models.builder import assignments
from ..analysis.sets import FIGURE_SETS
from ..paper import tables as paper_tables
from ..tables import Table, table_names

CLAIMS_YAML = Path(__file__).resolve().parent.parent / "paper" / "claims.yaml"
EXPECT = ("<", ">")
KINDS = ("better", "not_worse")
FIGURES = ("pairing", "invariance", "reconstruction")
VOTE = "vote_error"  # the Vote "metric": one prediction per test image per row (claims.votes)
PLACEMENT = "placement"  # the table of ConvPool-CNN-C with CReLU on a prefix of its layers
FIGURE_ROLES = {"relu", "crelu", "invert"}  # models of a figure set (analysis.sets.FigureSet)
FIGURE_REFERENCES = {"pairing": "gaussian", "reconstruction": "threshold"}
METRIC_PREFIX = {"pairing": "pairing_mu", "invariance": "invariance", "reconstruction": "recon_error"}


class ClaimsError(CreluError):
    """A claims file that cannot be checked (a wrong table, model, metric or direction)."""


@dataclass(frozen=True)
class Comparison:
    left: str
    expect: str  # the paper's direction of left vs right: "<" (left's number is lower) or ">"
    right: str
    kind: str = "better"  # better | not_worse


@dataclass(frozen=True)
class Evidence:
    """One group of checks: a table's rows or a figure's numbers, the datasets, metrics and comparisons."""

    source: str  # a table (convpool, ..., placement) or a figure (pairing, invariance, reconstruction)
    datasets: tuple[str, ...]  # tables: datasets; figures: figure sets
    metrics: tuple[str, ...]  # tables: result.json fields or vote_error; figures: conv layers
    compare: tuple[Comparison, ...]
    margin: float = 0.0
    threshold: float | None = None
    quoted: str | None = None
    quoted_except: tuple[str, ...] = ()

    @property
    def is_figure(self) -> bool:
        return self.source in FIGURES


@dataclass(frozen=True)
class Claim:
    id: str
    quote: str
    slide: str
    evidence: tuple[Evidence, ...]
    params: tuple[tuple[str, str], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class NotChecked:
    quote: str
    slide: str
    why: str


def load_claims(path: Path = CLAIMS_YAML) -> tuple[list[Claim], list[NotChecked]]:
    """The claims and the sentences left unchecked, validated; a malformed file raises ClaimsError."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ClaimsError(f"cannot read the claims file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ClaimsError(
            f"{path}: expected a mapping with a `claims` list (see crelu_repro/evidence/paper/claims.yaml)"
        )
    claims = [_claim(entry, f"{path}: claim {i + 1}") for i, entry in enumerate(data["claims"])]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ClaimsError(
            f"{path}: claim ids must be unique; repeated: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    unchecked = [
        NotChecked(**_keys(e, {"quote", "slide", "why"}, set(), f"{path}: not_checked"))
        for e in data.get("not_checked") or []
    ]
    return claims, unchecked


def _keys(entry: object, required: set[str], optional: set[str], where: str) -> dict:
    if not isinstance(entry, dict):
        raise ClaimsError(f"{where}: expected a mapping, got {entry!r}")
    missing, unknown = required - set(entry), set(entry) - required - optional
    if missing or unknown:
        raise ClaimsError(
            f"{where}: "
            + "; ".join(
                ([f"missing {', '.join(sorted(missing))}"] if missing else [])
                + ([f"unknown key(s) {', '.join(sorted(unknown))}"] if unknown else [])
            )
            + f" (valid keys: {', '.join(sorted(required | optional))})"
        )
    return entry


def _claim(entry: object, where: str) -> Claim:
    e = _keys(entry, {"id", "quote", "slide", "evidence"}, {"params", "note"}, where)
    where = f"{where} ({e['id']})"
    if not _list(e, "evidence", where):
        raise ClaimsError(f"{where}: `evidence` must not be empty")
    params = tuple(tuple(p) for p in _list(e, "params", where))
    if any(len(p) != 2 for p in params):
        raise ClaimsError(f"{where}: `params` entries are [model, baseline] pairs")
    _within("model", [m for p in params for m in p], MODEL_NAMES, where)
    evidence = tuple(_evidence(g, f"{where}, evidence {i + 1}") for i, g in enumerate(e["evidence"]))
    return Claim(str(e["id"]), str(e["quote"]), str(e["slide"]), evidence, params, str(e.get("note", "")))


def _evidence(entry: object, where: str) -> Evidence:
    optional = {
        "table",
        "figure",
        "metrics",
        "layers",
        "margin",
        "threshold",
        "quoted",
        "quoted_except",
    }
    e = _keys(entry, {"datasets", "compare"}, optional, where)
    if ("table" in e) == ("figure" in e):
        raise ClaimsError(
            f"{where}: give exactly one of `table` ({', '.join(table_names())}) or `figure` "
            f"({', '.join(FIGURES)})"
        )
    source = e.get("table") or e.get("figure")
    valid_sources = table_names() if "table" in e else FIGURES
    if source not in valid_sources:
        raise ClaimsError(
            f"{where}: unknown {'table' if 'table' in e else 'figure'} {source!r}; "
            f"valid: {', '.join(valid_sources)}"
        )
    metrics = _metrics(e, where)
    group = Evidence(
        source,
        _list(e, "datasets", where),
        metrics,
        tuple(_comparison(c, where) for c in _list(e, "compare", where)),
        float(e.get("margin", 0.0)),
        float(e["threshold"]) if "threshold" in e else None,
        e.get("quoted"),
        _list(e, "quoted_except", where),
    )
    _check_names(group, where)
    return group


def _metrics(entry: dict, where: str) -> tuple:
    """A group's metrics (figures: its layers); `metrics: table` is every error column its table declares."""
    if "figure" in entry:
        return _list(entry, "layers", where)
    if entry.get("metrics") == "table":
        return tuple(m.key for m in declared(entry["table"]).spec.metrics)
    return _list(entry, "metrics", where)


def _list(entry: dict, key: str, where: str) -> tuple:
    value = entry.get(key) or []
    if not isinstance(value, list):
        raise ClaimsError(f"{where}: `{key}` must be a list, got {value!r}")
    return tuple(value)


def _comparison(entry: object, where: str) -> Comparison:
    if not isinstance(entry, list) or len(entry) not in (3, 4):
        raise ClaimsError(
            f"{where}: a comparison is [left, expect, right] or [left, expect, right, kind], got {entry!r}"
        )
    c = Comparison(*(str(x) for x in entry))
    if c.expect not in EXPECT:
        raise ClaimsError(f"{where}: expect {c.expect!r} must be one of {' '.join(EXPECT)}")
    if c.kind not in KINDS:
        raise ClaimsError(f"{where}: kind {c.kind!r} must be one of {', '.join(KINDS)}")
    return c


def _check_names(g: Evidence, where: str) -> None:
    """Every dataset, metric and model the group names must exist where it will be looked up."""
    if g.is_figure:
        datasets, metrics = tuple(FIGURE_SETS), None  # layers are looked up in the figure's JSON
        models = FIGURE_ROLES | ({FIGURE_REFERENCES[g.source]} if g.source in FIGURE_REFERENCES else set())
    else:
        table = declared(g.source)
        datasets = tuple(table.datasets)
        metrics = tuple(m.key for m in table.spec.metrics) + ((VOTE,) if table.spec.vote else ())
        models = set(table.rows) | ({"best_quoted"} if g.quoted else set())
        models |= {"suggested"} if g.source == PLACEMENT else set()
    _within("dataset", g.datasets, datasets, where)
    if metrics is not None:
        _within("metric", g.metrics, metrics, where)
    if not g.metrics:
        raise ClaimsError(f"{where}: no {'layers' if g.is_figure else 'metrics'} to check")
    _within("model", [m for c in g.compare for m in (c.left, c.right)], sorted(models), where)
    if any(c.kind == "not_worse" for c in g.compare) and g.margin <= 0:
        raise ClaimsError(f"{where}: a not_worse comparison needs a positive `margin`")
    if g.source == "reconstruction" and g.threshold is None:
        raise ClaimsError(f"{where}: the reconstruction figure needs a `threshold`")
    if g.quoted and g.quoted not in paper_tables():
        raise ClaimsError(
            f"{where}: unknown quoted section {g.quoted!r} of crelu_repro/evidence/paper/tables.yaml"
        )


@functools.cache
def declared(name: str) -> Table:
    """A table as its experiment file declares it (no overrides): what claims.yaml names."""
    return Table(name)


def placement_rows() -> dict[int, str]:
    """The placement table's rows by depth: the deepest layer whose activation the row changes from its
    family's table (0 = none, the baseline) -> the row's label. Read from the descriptions, not from any
    activation's name, so a placement study of another activation works the same."""
    rows = {}
    for row, variant in declared(PLACEMENT).variants().items():
        table = FAMILIES[variant.family]
        acts = [act for _, act, _ in assignments(table, variant)]
        plain = [act for _, act, _ in assignments(table, Variant(variant.family))]
        changed = [depth for depth, (a, b) in enumerate(zip(acts, plain, strict=True), start=1) if a != b]
        rows[max(changed, default=0)] = row
    return rows


def _within(what: str, given: list | tuple, valid: list | tuple, where: str) -> None:
    wrong = [x for x in given if x not in valid]
    if wrong:
        raise ClaimsError(
            f"{where}: unknown {what}(s) {', '.join(map(str, wrong))}; valid: {', '.join(valid)}"
        )
