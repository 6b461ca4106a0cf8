"""Draw the paper's discussion figures from the runs that `make tables` trained (`make figures`).

python scripts/figures.py [--quick] [--sweeps multirun] [--out results/figures] [analysis options]

Each figure set names the table runs it needs (seed 0, fold 0 of a table's sweep). A set whose runs are not
all finished is skipped, naming the make target that trains them; the command fails if a set fails or if
none can be drawn. --quick reads the QUICK=1 sweeps (multirun/quick/) and writes under results/quick/figures/.
For runs of your own: `python -m crelu_repro.analysis all RUN_DIR [RUN_DIR ...] --out DIR`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crelu_repro.analysis.cli import FIGURES, add_options, draw
from crelu_repro.analysis.runs import load_run
from crelu_repro.analysis.sets import FIGURE_SETS, FigureSet
from crelu_repro.errors import CreluError
from crelu_repro.results import read_result

REPO = Path(__file__).resolve().parent.parent


def draw_set(name: str, fs: FigureSet, sweeps: Path, out: Path, args: argparse.Namespace, quick: bool) -> str:
    """Draw one set's figures under out/<name>/; return a one-line account of what happened."""
    models = dict.fromkeys((*fs.compare, fs.invert))
    missing = [str(fs.run_dir(sweeps, m)) for m in models if read_result(fs.run_dir(sweeps, m)) is None]
    if missing:
        target = f"make table-{fs.sweep}" + (" QUICK=1" if quick else "")
        return f"{name}: skipped, no finished run at {', '.join(missing)} (`{target}` trains them)"
    compare = [load_run(fs.run_dir(sweeps, m)) for m in fs.compare]
    invert = load_run(fs.run_dir(sweeps, fs.invert))
    written = draw(args.figures.split(","), compare, [invert], out / name, args)
    return f"{name}: wrote " + ", ".join(str(p) for p in written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use the QUICK=1 table runs")
    parser.add_argument("--sweeps", type=Path, help="the tables' sweep root (default multirun[/quick])")
    parser.add_argument("--out", type=Path, help="default results/figures (--quick: results/quick/figures)")
    parser.add_argument("--sets", default=",".join(FIGURE_SETS), help="comma-separated figure sets")
    parser.add_argument(
        "--figures", default=",".join(FIGURES), help="comma-separated, of: " + ", ".join(FIGURES)
    )
    add_options(parser)
    args = parser.parse_args(argv)
    sweeps = args.sweeps or REPO / ("multirun/quick" if args.quick else "multirun")
    out = args.out or REPO / ("results/quick/figures" if args.quick else "results/figures")
    for option, valid in (("sets", FIGURE_SETS), ("figures", FIGURES)):
        unknown = set(getattr(args, option).split(",")) - set(valid)
        if unknown:
            parser.error(f"unknown --{option} {', '.join(sorted(unknown))}; valid: {', '.join(valid)}")
    drawn = failed = 0
    for name in args.sets.split(","):
        try:
            line = draw_set(name, FIGURE_SETS[name], sweeps, out, args, args.quick)
        except CreluError as exc:  # e.g. the runs' dataset is not where their config says
            line, failed = f"{name}: failed: {exc}", failed + 1
        drawn += ": wrote " in line
        print(f"figures: {line}", flush=True)
    if not drawn and not failed:
        print("figures: nothing drawn; train the runs named above first", file=sys.stderr)
    return 0 if drawn and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
