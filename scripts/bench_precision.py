"""Does bf16 autocast change what a CPU run learns? QUICK runs (experiment=quick) of relu and crelu in fp32
and in bf16 on this CPU, a few seeds each: their test errors side by side, with the mean, the spread and
Welch's 95% interval of the difference. Written to results/cpu_precision.md (+ .json).

  python scripts/bench_precision.py --data ../shared/data/cifar10-subset --seeds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_report import written_by

from crelu_repro.core import files
from crelu_repro.core.distributed import native_bf16
from crelu_repro.core.errors import CreluError, fail
from crelu_repro.evidence.stats import welch_difference
from crelu_repro.models import load_variant
from crelu_repro.run.compose import compose
from crelu_repro.train.trainer import train

REPO = Path(__file__).resolve().parent.parent


def errors(model: str, bf16: bool, a: argparse.Namespace, tmp: Path) -> list[float]:
    out = []
    for seed in range(a.seeds):
        cfg = compose(["experiment=quick", f"model={model}", "trainer.device=cpu", f"trainer.bf16={bf16}",
                       f"dataset.root={a.data}", "dataset.download=false", f"seed={seed}",
                       "trainer.progress=false", f"out_dir={tmp / f'{model}_{bf16}_{seed}'}"])  # fmt: skip
        out.append(train(cfg)["test_error"])
        print(
            f"{model} {'bf16' if bf16 else 'fp32'} seed {seed}: {out[-1]:.2f}%", file=sys.stderr, flush=True
        )
    return out


def report(rows: dict, a: argparse.Namespace) -> str:
    lines = ["# bf16 autocast on the CPU: QUICK runs' test errors, fp32 beside bf16", "",
             f"{a.written_by}; bf16 native here: "
             f"{native_bf16('cpu')}. Each run: `experiment=quick` (500 training / 500 test images of "
             f"{a.data_name}, one epoch, batch 50), seeds 0-{a.seeds - 1}.", "",
             "| model | fp32 test error % | bf16 test error % | bf16 - fp32 (95% Welch interval) |",
             "|---|---|---|---|"]  # fmt: skip
    for model, (fp32, bf16) in rows.items():
        d = welch_difference(bf16, fp32)
        ci = f"{d.delta:+.2f} ({d.low:+.2f}, {d.high:+.2f})" if d and d.low is not None else "-"
        cell = [f"{statistics.mean(x):.2f} ± {statistics.stdev(x):.2f} ({', '.join(f'{e:.1f}' for e in x)})"
                for x in (fp32, bf16)]  # fmt: skip
        lines.append(f"| {model} | {cell[0]} | {cell[1]} | {ci} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("CRELU_DATA", "~/.cache/crelu_repro"))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--models", nargs="+", default=["relu", "crelu"])
    p.add_argument("--out", type=Path, default=REPO / "results" / "cpu_precision.md")
    a = p.parse_args()
    a.data = str(Path(a.data).expanduser().resolve())
    a.data_name = Path(a.data).name
    a.written_by = written_by()  # before anything runs: the load it starts under
    try:
        for model in a.models:
            load_variant(model)  # an unknown name: one line that lists the valid ones
        files.output_dir(a.out.parent, "--out", create=False)  # checked before anything runs, made after
        with tempfile.TemporaryDirectory() as tmp:
            rows = {m: (errors(m, False, a, Path(tmp)), errors(m, True, a, Path(tmp))) for m in a.models}
        files.output_dir(a.out.parent, "--out")
        files.write_text(a.out, report(rows, a))
        files.write_json(
            a.out.with_suffix(".json"), {m: {"fp32": f, "bf16": b} for m, (f, b) in rows.items()}
        )
    except CreluError as err:  # no data where it looked, an --out that cannot be written: one line
        sys.exit(fail(err))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
