"""`python -m crelu_repro.evidence.plan`: what each table's runs and each claim's power cost, in device-hours.

    python -m crelu_repro.evidence.plan [--table T] [--sweeps multirun] [--out results] [--quick]
        [--card H200] [--benchmarks FILE] [--probe [--steps 10] [--warmup 3]] [--probes FILE]
        [--claims FILE] [-- OVERRIDES]

What `make plan [TABLE=...] [PROBE=1]` runs: results/plan.md and plan.json. It reads figures and measures
nothing, unless --probe: then each step with no stored probe for this machine is measured and stored."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...core.errors import CreluError, fail
from ...core.files import output_dir, write_error
from ...core.paths import QUICK_SWEEPS, SWEEPS
from ...train.eta import MEASURED_STEPS, WARMUP_STEPS
from ..claims.spec import CLAIMS_YAML, load_claims
from ..tables import Table, TableError, collect, table_names
from ..tables.cli import split_argv
from ..tables.spec import check_name
from .cost import planned_rows, price
from .figures import REFERENCE_CARD, Benchmarks
from .probes import PROBES, Prober, ProbeStore, probe_missing
from .render import machine, write
from .sizes import plan_claim


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m crelu_repro.evidence.plan", description=__doc__.splitlines()[0]
    )
    add = parser.add_argument
    add("--table", help=f"one table (default: all): {', '.join(table_names())}")
    add("--sweeps", type=Path, help=f"the sweeps' root: default {SWEEPS} ({QUICK_SWEEPS})")
    add("--out", type=Path, help="default results (--quick: results/quick)")
    add("--quick", action="store_true", help="the tables' QUICK recipe")
    add("--card", default=REFERENCE_CARD, help=f"the card whose benchmark rows count ({REFERENCE_CARD})")
    add("--benchmarks", type=Path, default=Path("results/benchmarks.json"), help="the benchmark report")
    add("--probe", action="store_true", help="measure each step not yet probed here (make plan PROBE=1)")
    add("--probes", type=Path, default=PROBES, help=f"the stored probes ({PROBES})")
    add("--steps", type=int, default=MEASURED_STEPS, help=f"timed steps a probe ({MEASURED_STEPS})")
    add("--warmup", type=int, default=WARMUP_STEPS, help=f"untimed steps before them ({WARMUP_STEPS})")
    add("--claims", type=Path, default=CLAIMS_YAML, help="the claims file (default: the paper's)")
    parser.epilog = "OVERRIDES (after --): the tables' recipe, as `make table-<table> ARGS=` gives it"
    options, overrides = split_argv(argv)
    args = parser.parse_args(options)
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1")
    args.overrides = overrides
    args.sweeps = args.sweeps or Path(QUICK_SWEEPS if args.quick else SWEEPS)
    args.out = args.out or Path("results/quick" if args.quick else "results")
    return args


def chosen_tables(table: str | None) -> list[str]:
    """Every table when none is named; a name given but empty (`make plan TABLE=$(x)`) or unknown is
    refused, naming the tables, before anything is read or written."""
    if table is None:
        return list(table_names())
    if not table.strip():
        names = ", ".join(table_names())
        raise TableError(f"--table (make: TABLE=) is empty; name a table, or leave it out for all: {names}")
    return [check_name(table)]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        names = chosen_tables(args.table)
        store = ProbeStore(args.probes)  # a malformed file stops the plan here, before any work
        bench = Benchmarks(args.benchmarks, args.card)
        claims, _ = load_claims(args.claims)
        tables = [Table(n, args.overrides, args.quick, args.sweeps / n) for n in names]
        rows = {t.name: planned_rows(t) for t in tables}
        output_dir(args.out, "--out")
        unprobed: dict[str, str] = {}
        if args.probe:
            output_dir(args.probes.parent, "--probes")
            cfgs = [r.cfg for t in tables for r in rows[t.name]]
            unprobed = probe_missing(cfgs, store, Prober(args.steps, args.warmup))
        costs = {t.name: price(t, rows[t.name], bench, store, unprobed) for t in tables}
        evidence = {t.name: collect(t) for t in tables}
        plans = [plan_claim(c, evidence, costs) for c in claims]
        plans = [p for p in plans if p.checks] if args.table else plans
        first = next((r.cfg for t in tables for r in rows[t.name]), None)
        here = "none" if first is None else store.device(first)  # where its probes were (or would be) taken
        meta = {"machine": machine(here), "card": args.card, "benchmarks": bench.why or str(args.benchmarks),
                "probes": str(args.probes), "overrides": args.overrides, "quick": args.quick,
                "sweeps": str(args.sweeps)}  # fmt: skip
        path = write(args.out, meta, list(costs.values()), plans)
    except CreluError as err:
        return fail(err)
    except OSError as err:
        return fail(write_error(err, "the plan"))
    print(path.read_text())
    return 0
