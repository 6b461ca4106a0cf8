"""Draw the paper's discussion figures from the runs that `make tables` trained (`make figures`).

python scripts/figures.py [--quick] [--sweeps multirun] [--out results/figures] [options] [-- OVERRIDES]

Each figure set names the table runs it needs (the first planned run, seed 0 / fold 0, of each model in a
table's sweep; it must count as the table counts it). A set whose runs do not all count is skipped, naming
the make target that trains them; the command fails if a set fails or if none can be drawn. --quick reads
the QUICK=1 sweeps (multirun/quick/, the tables' QUICK recipe) and writes under results/quick/figures/.
For runs of your own: `python -m crelu_repro.evidence.analysis all RUN_DIR [RUN_DIR ...] --out DIR`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crelu_repro.core.errors import FAILED, CreluError, fail
from crelu_repro.core.files import output_dir
from crelu_repro.core.paths import QUICK_SWEEPS, SWEEPS
from crelu_repro.evidence.analysis.cli import FIGURES, add_options, draw
from crelu_repro.evidence.analysis.runs import load_run
from crelu_repro.evidence.analysis.sets import FIGURE_SETS, FigureSet
from crelu_repro.evidence.tables import Table
from crelu_repro.evidence.tables.cli import split_argv
from crelu_repro.evidence.tables.render import command

REPO = Path(__file__).resolve().parent.parent


def draw_set(
    name: str, fs: FigureSet, sweeps: Path, out: Path, args: argparse.Namespace, overrides: list[str]
) -> str:
    """Draw one set's figures under out/<name>/; return a one-line account of what happened."""
    table = Table(fs.sweep, overrides, args.quick, sweeps / fs.sweep)
    records = fs.records(table)
    missing = [f"{r.plan.path} ({r.why})" for r in records.values() if not r.counts]
    if missing:
        target = command(table)
        return f"{name}: skipped, no counted run at {', '.join(missing)} (`{target}` trains them)"
    compare = [load_run(records[m].plan.path) for m in fs.compare]
    invert = load_run(records[fs.invert].plan.path)
    written = draw(args.figures.split(","), compare, [invert], out / name, args)
    return f"{name}: wrote " + ", ".join(str(p) for p in written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use the QUICK=1 table runs")
    parser.add_argument(
        "--sweeps", type=Path, help=f"the tables' sweep root (default {SWEEPS}, --quick: {QUICK_SWEEPS})"
    )
    parser.add_argument("--out", type=Path, help="default results/figures (--quick: results/quick/figures)")
    parser.add_argument("--sets", default=",".join(FIGURE_SETS), help="comma-separated figure sets")
    parser.add_argument(
        "--figures", default=",".join(FIGURES), help="comma-separated, of: " + ", ".join(FIGURES)
    )
    add_options(parser)
    parser.epilog = "OVERRIDES (after --): the tables' recipe, as `make table-<table> ARGS=` gave it"
    options, overrides = split_argv(argv)
    args = parser.parse_args(options)
    sweeps = args.sweeps or REPO / (QUICK_SWEEPS if args.quick else SWEEPS)
    out = args.out or REPO / ("results/quick/figures" if args.quick else "results/figures")
    for option, valid in (("sets", FIGURE_SETS), ("figures", FIGURES)):
        unknown = set(getattr(args, option).split(",")) - set(valid)
        if unknown:
            parser.error(f"unknown --{option} {', '.join(sorted(unknown))}; valid: {', '.join(valid)}")
    try:
        output_dir(out, "--out", create=False)  # (made by the first figure drawn)
    except CreluError as err:  # a file or a link at --out: one line, nothing drawn
        return fail(err)
    drawn = failed = 0
    for name in args.sets.split(","):
        try:
            line = draw_set(name, FIGURE_SETS[name], sweeps, out, args, overrides)
        except CreluError as exc:  # e.g. the runs' dataset is not where their config says
            line, failed = f"{name}: failed: {exc}", failed + 1
        drawn += ": wrote " in line
        print(f"figures: {line}", flush=True)
    if not drawn and not failed:
        print("figures: nothing drawn; train the runs named above first", file=sys.stderr)
    return 0 if drawn and not failed else FAILED


if __name__ == "__main__":
    sys.exit(main())
