"""`python -m crelu_repro.evidence.claims [--sweeps multirun] [--out results] [--quick] [-- OVERRIDES]` (what
`make claims` runs; OVERRIDES: the tables' recipe, as `make table-<table> ARGS=` gave it).

Reads every finished run of the tables' sweeps and every discussion figure's JSON that exists, and writes
<out>/claims.md, <out>/claims.json, <out>/figures/tables/<table>.png, <out>/figures/claims.png, and the same
figures with the report to TensorBoard under <sweeps>/claims/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...core import files
from ...core.errors import CreluError, fail
from ...core.files import input_dir, output_dir, write_error
from ...core.paths import QUICK_SWEEPS, SWEEPS
from ..tables import table_names
from ..tables.cli import split_argv
from .assess import assess
from .checks import Sweeps
from .discussion import Figures
from .plots import forest_figure, save, table_figure, to_tensorboard
from .render import markdown, write_json
from .spec import CLAIMS_YAML, load_claims


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m crelu_repro.evidence.claims", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sweeps", type=Path, help=f"the tables' sweep root (default {SWEEPS}, --quick: {QUICK_SWEEPS})"
    )
    parser.add_argument("--out", type=Path, help="where to write (default results, --quick: results/quick)")
    parser.add_argument(
        "--figures", type=Path, help="where `make figures` wrote its sets (default <out>/figures)"
    )
    parser.add_argument(
        "--claims", type=Path, default=CLAIMS_YAML, help="the claims file (default: the paper's)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the QUICK=1 sweeps: say the verdicts mean nothing"
    )
    parser.add_argument("--no-tb", action="store_true", help="do not write the TensorBoard events")
    parser.epilog = "OVERRIDES (after --): read the tables' runs of this recipe, e.g. -- trainer.epochs=350"
    options, overrides = split_argv(argv)
    args = parser.parse_args(options)
    args.overrides = overrides
    args.sweeps = args.sweeps or Path(QUICK_SWEEPS if args.quick else SWEEPS)
    args.out = args.out or Path("results/quick" if args.quick else "results")
    args.figures = args.figures or args.out / "figures"
    return args


def run(args: argparse.Namespace) -> list[Path]:
    """Assess every claim and write the report, the JSON and the figures; return the files written."""
    make = "make claims" + (" QUICK=1" if args.quick else "")
    input_dir(args.sweeps, "--sweeps", f"train a table first (`make table-convpool`), then `{make}`")
    claims, unchecked = load_claims(args.claims)
    if not args.no_tb:  # its TensorBoard copy goes under the sweeps: checked before anything is made
        output_dir(args.sweeps / "claims", "the claims' TensorBoard folder", create=False, fix="pass --no-tb")
    output_dir(args.out, "--out")
    sweeps = Sweeps(args.sweeps, args.quick, args.overrides)
    assessments = assess(claims, sweeps, Figures(args.figures, args.quick))
    for name in table_names():  # every table's failed and not-counted runs are listed, not only the claims'
        sweeps.evidence(name)
    sources = {"sweeps": args.sweeps, "figures": args.figures, "args": " ".join(args.overrides)}
    report = markdown(assessments, unchecked, sources, args.quick, sweeps)
    md, js, figures_dir = args.out / "claims.md", args.out / "claims.json", args.out / "figures"
    files.atomic_write(md, lambda f: f.write(report.encode()))
    write_json(js, assessments)
    pngs = {
        f"table_{name}": save(table_figure(name, sweeps, args.quick), figures_dir / "tables" / f"{name}.png")
        for name in table_names()
    }
    pngs["forest"] = save(forest_figure(assessments, args.quick), figures_dir / "claims.png")
    if not args.no_tb:
        to_tensorboard(args.sweeps / "claims", pngs, report)
    for a in assessments:
        print(f"{a.verdict:>12}  {a.claim.id}: {a.claim.quote}")
    return [md, js, *pngs.values()]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        written = run(args)
    except CreluError as exc:
        return fail(exc)
    except OSError as err:  # after the checks: permissions, a file where a folder belongs
        return fail(write_error(err, "the claims report"))
    print("claims: wrote " + ", ".join(str(p) for p in written))
    return 0
