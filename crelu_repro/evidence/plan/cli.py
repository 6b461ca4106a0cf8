"""`python -m crelu_repro.evidence.plan`: what each table's runs and each claim's power cost, in device-hours.

    python -m crelu_repro.evidence.plan [--table T] [--sweeps multirun] [--out results] [--quick] [--steps 20]
        [--warmup 3] [--claims FILE] [--benchmarks FILE] [-- OVERRIDES]

What `make plan [TABLE=...]` runs: results/plan.md and plan.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...core.cli_paths import fail, output_dir, write_error
from ...core.errors import CreluError
from ...core.paths import QUICK_SWEEPS, SWEEPS
from ..claims.spec import CLAIMS_YAML, load_claims
from ..tables import Table, collect, table_names
from ..tables.cli import split_argv
from ..tables.spec import check_name
from .cost import Prober
from .render import machine, write
from .sizes import plan_claim


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m crelu_repro.evidence.plan", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--table", help=f"one table (default: all): {', '.join(table_names())}")
    parser.add_argument("--sweeps", type=Path, help=f"the sweeps' root: default {SWEEPS} ({QUICK_SWEEPS})")
    parser.add_argument("--out", type=Path, help="default results (--quick: results/quick)")
    parser.add_argument("--quick", action="store_true", help="the tables' QUICK recipe")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per network (20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them (3)")
    parser.add_argument(
        "--claims", type=Path, default=CLAIMS_YAML, help="the claims file (default: the paper's)"
    )
    parser.add_argument("--benchmarks", type=Path, default=Path("results/benchmarks.json"),
                        help="the reference card's benchmark report (results/benchmarks.json)")  # fmt: skip
    parser.epilog = "OVERRIDES (after --): the tables' recipe, as `make table-<table> ARGS=` gives it"
    options, overrides = split_argv(argv)
    args = parser.parse_args(options)
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1")
    args.overrides = overrides
    args.sweeps = args.sweeps or Path(QUICK_SWEEPS if args.quick else SWEEPS)
    args.out = args.out or Path("results/quick" if args.quick else "results")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        names = [check_name(args.table)] if args.table else list(table_names())
        tables = [Table(n, args.overrides, args.quick, args.sweeps / n) for n in names]
        claims, _ = load_claims(args.claims)
        output_dir(args.out, "--out")
        prober = Prober(args.steps, args.warmup, args.benchmarks)
        costs = {t.name: prober.table(t) for t in tables}
        evidence = {t.name: collect(t) for t in tables}
        plans = [plan_claim(c, evidence, costs) for c in claims]
        plans = [p for p in plans if p.checks] if args.table else plans
        meta = {"machine": machine(prober.device), "probe": {"steps": args.steps, "warmup": args.warmup},
                "overrides": args.overrides, "quick": args.quick, "sweeps": str(args.sweeps)}  # fmt: skip
        path = write(args.out, meta, list(costs.values()), plans)
    except CreluError as err:
        return fail(err)
    except OSError as err:
        return fail(write_error(err, "the plan"))
    print(path.read_text())
    return 0
