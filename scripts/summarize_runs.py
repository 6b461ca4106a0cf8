"""Collect every result.json under the given directories into a markdown table (and print it).

python scripts/summarize_runs.py outputs/gpu_check [--out results/gpu_check.md] [--title ...]
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from crelu_repro.core.errors import USAGE
from crelu_repro.core.results import ResultError, results_under

COLUMNS = ("model", "dataset", "seed", "epochs", "test_error", "train_error", "images_per_s", "wall_s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    parser.add_argument("--title", default="Training runs")
    args = parser.parse_args(argv)
    found = [r for d in args.dirs for _, r in results_under(d)]
    for bad in (r for r in found if isinstance(r, ResultError)):
        print(f"warning: {bad}", file=sys.stderr)
    results = [r for r in found if not isinstance(r, ResultError)]
    if not results:
        print(f"error: no result.json under {', '.join(map(str, args.dirs))}", file=sys.stderr)
        return USAGE
    first = results[0]
    lines = [
        f"# {args.title}",
        "",
        f"Device: {first.device} x{first.world_size}; torch {first.torch}; "
        f"code {first.code_version}; {date.today().isoformat()}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in results:
        cells = [f"{v:,.2f}" if isinstance(v, float) else str(v) for v in (getattr(r, c) for c in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
