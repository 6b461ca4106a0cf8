"""`python -m crelu_repro.evidence.tables <table> [--sweep-dir DIR] [--out results] [--quick] [--
OVERRIDES...]`: render a table from exactly the runs its experiment plans (what `make table-<table>` runs
after the sweep, with the same ARGS as OVERRIDES). `--sweep-args` prints what the sweep takes before ARGS
instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...core.errors import CreluError, fail
from ...core.files import input_dir, output_dir, write_error
from ...core.paths import QUICK_SWEEPS, SWEEPS, table_sweep_dir
from .planned import Table
from .render import command, render
from .spec import table_names


def split_argv(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """(options, overrides): a command line split at `--`; what follows are a table sweep's overrides."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    return argv[:cut], argv[cut + 1 :]


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m crelu_repro.evidence.tables", description=__doc__.splitlines()[0]
    )
    parser.add_argument("table", help=f"one of {', '.join(table_names())}")
    parser.add_argument(
        "--sweep-dir", type=Path, help=f"default {SWEEPS}/<table> (--quick: {QUICK_SWEEPS}/<table>)"
    )
    parser.add_argument("--out", type=Path, help="default results (--quick: results/quick)")
    parser.add_argument("--quick", action="store_true", help="the table's QUICK recipe (make ... QUICK=1)")
    parser.add_argument("--sweep-args", action="store_true", help="print the sweep's own overrides and exit")
    parser.epilog = "OVERRIDES (after --): the sweep's, e.g. -- trainer.epochs=350 sched=step"
    options, overrides = split_argv(argv)
    args = parser.parse_args(options)
    args.overrides = overrides
    args.sweep_dir = args.sweep_dir or Path(table_sweep_dir(args.table, args.quick))
    args.out = args.out or Path("results/quick" if args.quick else "results")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        table = Table(args.table, args.overrides, args.quick, args.sweep_dir)
        if args.sweep_args:  # for make: `train.py -m <these> $(ARGS)`
            quick = table.overrides[: len(table.overrides) - len(table.args)]
            print(" ".join([f"experiment={table.name}", *quick, f"hydra.sweep.dir={table.sweep_dir}"]))
            return 0
        input_dir(table.sweep_dir, "--sweep-dir", f"run `{command(table)}` first, or give the sweep's folder")
        output_dir(args.out, "--out")
        path = render(table, args.out)
    except CreluError as err:
        return fail(err)
    except OSError as err:  # after the checks: permissions, a file in the way
        return fail(write_error(err, f"the {args.table} table"))
    print(path.read_text())
    return 0
