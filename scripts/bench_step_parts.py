"""Where a training step's time goes: the loader's batch, the forward pass, the backward pass, the optimizer,
and the scheduler with the running sums, timed one by one on what `build` makes of a config (the trainer's
own model, optimizer, scheduler and loader). Rounds alternate fresh batches (as in training) with one fixed
batch (the model's ceiling), so the compute's own round-to-round variation shows beside the loop's work.
Written to results/cpu_step_parts.md (+ .json).

  python scripts/bench_step_parts.py --data ../shared/data/cifar10-subset --models relu crelu
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_report import written_by
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from crelu_repro.core import files
from crelu_repro.core.distributed import Dist
from crelu_repro.core.errors import ConfigError, CreluError, fail
from crelu_repro.data import load_splits
from crelu_repro.models import load_variant
from crelu_repro.run.compose import compose
from crelu_repro.train.build import Built, build
from crelu_repro.train.probe import outlasting_epochs
from crelu_repro.train.session import setup_backends, synced_time
from crelu_repro.train.state import EpochSums

REPO = Path(__file__).resolve().parent.parent
PARTS = ("loader", "forward", "backward", "optimizer", "schedule_sums")  # in the trainer's order
LOOP_OWN = ("loader", "schedule_sums")  # what the trainer adds to the model's step


def step_parts(built: Built, batches, fixed: tuple | None, steps: int, dev: torch.device) -> dict[str, float]:
    """Mean milliseconds of each part over `steps` steps, on `fixed` (x, y) or on fresh batches."""
    total, sums = dict.fromkeys(PARTS, 0.0), EpochSums.zeros(dev)
    for k in range(steps):
        stamps = [synced_time(dev)]
        x, y = fixed or next(batches)  # x: (B, 3, H, W), y: (B,)
        stamps.append(synced_time(dev))
        with built.rt.autocast():
            logits = built.model(x)  # (B, classes)
        loss = F.cross_entropy(logits.float(), y)
        stamps.append(synced_time(dev))
        built.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stamps.append(synced_time(dev))
        built.optimizer.step()
        stamps.append(synced_time(dev))
        built.scheduler.step()
        sums.record(loss, logits, y, k)
        stamps.append(synced_time(dev))
        for part, t0, t1 in zip(PARTS, stamps[:-1], stamps[1:], strict=True):
            total[part] += t1 - t0
    return {part: 1000 * s / steps for part, s in total.items()}


def measure(model: str, precision: str, a: argparse.Namespace) -> list[dict]:
    """One row per round and feed (fresh, fixed), the feeds alternating which goes first."""
    cfg = compose([f"model={model}", f"trainer.device={a.device}", f"trainer.batch_size={a.batch}",
                   f"trainer.bf16={precision == 'bf16'}", "trainer.progress=false", f"dataset.root={a.data}",
                   "dataset.download=false", *a.overrides])  # fmt: skip
    dev = torch.device(a.device)
    splits = load_splits(cfg.dataset, cfg.eval)
    cfg.trainer.epochs = outlasting_epochs(cfg, a.warmup + 2 * a.rounds * a.steps, len(splits.train.labels))
    setup_backends(cfg, dev)
    built = build(cfg, dev, Dist(), splits)
    epochs = (built.loaders.train.train_epoch(a.batch, cfg.seed, e) for e in itertools.count())
    batches = itertools.chain.from_iterable(epochs)
    fixed = next(batches)
    step_parts(built, batches, None, a.warmup, dev)
    rows = []
    for r in range(a.rounds):
        for feed in ("fresh", "fixed") if r % 2 == 0 else ("fixed", "fresh"):
            ms = step_parts(built, batches, fixed if feed == "fixed" else None, a.steps, dev)
            step = sum(ms.values())
            rows.append({"model": model, "precision": precision, "batch": a.batch, "round": r + 1,
                         "feed": feed, **ms, "step": step, "img_s": 1000 * a.batch / step})  # fmt: skip
            print(f"{model} {precision} round {r + 1} {feed}: {step:.1f} ms a step", file=sys.stderr)
    return rows


def report(rows: list[dict], a: argparse.Namespace) -> str:
    head = ["# Where a training step's time goes", "",
            f"{a.written_by}. Milliseconds a step, the mean of {a.steps} steps a round after {a.warmup} "
            "warm-up steps. fresh: the trainer's loader gives each step its batch; fixed: one batch again"
            " and again (no loader).", "",
            "| model | precision | batch | round | feed | " + " | ".join(f"{p} ms" for p in PARTS)
            + " | step ms | img/s |", "|---" * (len(PARTS) + 7) + "|"]  # fmt: skip
    body = [f"| {r['model']} | {r['precision']} | {r['batch']} | {r['round']} | {r['feed']} | "
            + " | ".join(f"{r[p]:.2f}" for p in PARTS) + f" | {r['step']:.1f} | {r['img_s']:.0f} |"
            for r in rows]  # fmt: skip
    return "\n".join([*head, *body, "", *summary(rows)]) + "\n"


def summary(rows: list[dict]) -> list[str]:
    """Per model and precision: the loop's own share of a step, and how much the step varies by round."""
    lines = ["| model | precision | the loop's own work (loader, scheduler, sums) | step ms, fresh (min-max) "
             "| step ms, fixed (min-max) |", "|---|---|---|---|---|"]  # fmt: skip
    for (model, precision), group in itertools.groupby(rows, key=lambda r: (r["model"], r["precision"])):
        group = list(group)
        fresh = [r for r in group if r["feed"] == "fresh"]
        own = statistics.median(sum(r[p] for p in LOOP_OWN) for r in fresh)
        share = 100 * own / statistics.median(r["step"] for r in fresh)
        spans = [
            f"{min(s):.1f}-{max(s):.1f}"
            for s in ([r["step"] for r in group if r["feed"] == f] for f in ("fresh", "fixed"))
        ]
        lines.append(
            f"| {model} | {precision} | {own:.2f} ms ({share:.2f}% of a step) | {spans[0]} | {spans[1]} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("CRELU_DATA", "~/.cache/crelu_repro"))
    p.add_argument("--models", nargs="+", default=["relu", "crelu"])
    p.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=8, help="timed steps a round")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2, help="rounds of each feed, alternating which goes first")
    p.add_argument("--out", type=Path, default=REPO / "results" / "cpu_step_parts.md")
    p.add_argument("overrides", nargs="*", help="train.py overrides for every run (dataset.limit_train=...)")
    a = p.parse_args(argv)
    a.data = str(Path(a.data).expanduser().resolve())
    a.written_by = written_by(a.device)  # before anything runs: the load it starts under
    try:
        for model in a.models:
            load_variant(model)  # an unknown name: one line that lists the valid ones
        files.output_dir(a.out.parent, "--out", create=False)  # checked before anything runs, made after
        rows = [row for m in a.models for prec in a.precision for row in measure(m, prec, a)]
        files.output_dir(a.out.parent, "--out")
        files.write_text(a.out, report(rows, a))
        files.write_json(a.out.with_suffix(".json"), rows)
    except CreluError as err:  # no data where it looked, an unknown model...: one line, no traceback
        sys.exit(fail(err))
    except (HydraException, OmegaConfBaseException) as err:  # an override Hydra cannot apply
        sys.exit(fail(ConfigError(f"{' '.join(a.overrides)}: {str(err).splitlines()[0]}")))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
