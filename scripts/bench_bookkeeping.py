"""Host time and op count of the trainer's per-step bookkeeping, before and after it was fused.

  python scripts/bench_bookkeeping.py [--steps 2000] [--repeats 7] [--machine "2-core CPU VM"] \
      [--out results/bookkeeping.md]

before: the running sums updated at every step (the trainer up to 8a61b34: loss x batch, errors, seen and
the first non-finite step, each a device tensor). after: `EpochSums.record` at every step and `flush` every
`log_every` (50) steps, as `train_one_epoch` does now. On a CPU the tensors are tiny, so the time is the
host's: dispatch and launch overhead, what bounds a CUDA-graphed step at batch 128.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from crelu_repro.core.distributed import cpu_name
from crelu_repro.run.identity import code_version
from crelu_repro.train.state import EpochSums

REPO = Path(__file__).resolve().parent.parent
LOG_EVERY = 50  # configs/trainer/default.yaml


def before(sums: EpochSums, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, step: int) -> None:
    """The per-step update the trainer used to make (kept here as the reference of this measurement)."""
    sums.loss += loss.detach() * y.numel()
    sums.errors += (logits.detach().argmax(1) != y).sum()
    sums.seen += y.numel()
    bad = ~torch.isfinite(loss.detach()) & (sums.first_bad_step < 0)
    sums.first_bad_step = torch.where(bad, step, sums.first_bad_step)


def after(sums: EpochSums, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, step: int) -> None:
    sums.record(loss, logits, y, step)
    if (step + 1) % LOG_EVERY == 0:
        sums.flush()


class Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += func.overloadpacket.__name__ not in ("detach", "alias")  # views: no kernel
        return func(*args, **(kwargs or {}))


def measure(update, batch: int, classes: int, steps: int, repeats: int) -> tuple[float, float]:
    """(median microseconds per step, ops per step) over `steps` steps."""
    logits, y = torch.randn(batch, classes), torch.randint(0, classes, (batch,))
    loss = torch.nn.functional.cross_entropy(logits, y)
    times = []
    for _ in range(repeats):
        sums = EpochSums.zeros(torch.device("cpu"))
        t0 = time.perf_counter()
        for step in range(steps):
            update(sums, loss, logits, y, step)
        sums.flush()
        times.append((time.perf_counter() - t0) / steps * 1e6)
    with Ops() as ops:
        sums = EpochSums.zeros(torch.device("cpu"))
        for step in range(LOG_EVERY):
            update(sums, loss, logits, y, step)
    return statistics.median(times), ops.n / LOG_EVERY


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--machine", default=f"{cpu_name()}, {os.cpu_count()} cores")
    p.add_argument("--out", type=Path, default=REPO / "results" / "bookkeeping.md")
    a = p.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    rows = []
    for batch, classes in ((128, 10), (512, 10), (256, 1000)):
        b = measure(before, batch, classes, a.steps, a.repeats)
        f = measure(after, batch, classes, a.steps, a.repeats)
        cells = [
            batch,
            classes,
            f"{b[0]:.1f}",
            f"{f[0]:.1f}",
            f"{b[0] / f[0]:.1f}x",
            f"{b[1]:.1f}",
            f"{f[1]:.2f}",
        ]
        rows.append("| " + " | ".join(map(str, cells)) + " |")
    text = "\n".join([
        "# Per-step bookkeeping of the training loop, before and after fusing it",
        "",
        f"Written by `scripts/bench_bookkeeping.py` on {a.machine}; torch {torch.__version__}, one thread, "
        f"load average {load:.1f} at the start; code `{code_version()}`; median of {a.repeats} "
        f"rounds of {a.steps} steps. before: the running sums updated at every step. after: "
        f"`EpochSums.record` per step, `flush` every {LOG_EVERY} steps (its cost is included, spread over "
        "the steps).",
        "",
        "| batch | classes | before us/step | after us/step | speed-up | before ops/step | after ops/step |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "ops: aten ops dispatched (each a kernel launch on CUDA; views not counted). On a GPU the host time "
        "per op is similar (launch overhead), so the after column is the bookkeeping share of a CUDA-graphed "
        "step's floor.",
        "",
    ])  # fmt: skip
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
