"""The benchmark's report: renders the report dict that scripts/benchmark.py builds (machine, commands, rows)
to a markdown file (results/benchmarks.md by default) with the JSON beside it, and compares the measured rows
with the issue's targets (a verdict for each, and for a miss what bounds it).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
from pathlib import Path

import torch

from crelu_repro.core.distributed import cpu_name
from crelu_repro.evidence.stats import paired_difference
from crelu_repro.run.identity import code_version

# The targets (issues "Speed", "GPU readiness II"): ConvPool-CNN-C crelu b512 >= 75k img/s and >= 3.7x naive,
# b128 >= 2x naive, All-CNN-B ImageNet-shaped end to end >= 12k img/s; the CPU input pipeline >= 10x naive.
NEED = {"pipeline_x": 10.0, "b512_img_s": 75_000, "b512_x": 3.7, "b128_x": 2.0, "imagenet_img_s": 12_000}


def written_by(device: str = "cpu") -> str:
    """A report's first words: the command, the code version, the machine and torch. Taken before anything
    is measured, so that the load average is the one the measurements started under."""
    where = cpu_name() if device == "cpu" else torch.cuda.get_device_name()
    return (f"Written by `{' '.join(['python', *map(shlex.quote, sys.argv)])}`, code `{code_version()}`; "
            f"{where}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start, "
            f"torch {torch.__version__}")  # fmt: skip


def cell(v) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return "-" if v is None else str(v)


HEAD = {"dataset": "data", "project_img_s": "project img/s", "naive_img_s": "naive img/s",
        "ratio": "project / naive",
        "model_only_img_s": "model step alone img/s", "project_peak_mib": "peak MiB project",
        "naive_peak_mib": "peak MiB naive", "batches": "batches per round", "steps": "timed steps",
        "graphs": "compiled graphs / breaks / cudagraph skips", "threads": "torch threads",
        "workers": "naive workers", "plain_img_s": "plain loop img/s", "vs_plain": "project / plain",
        "rounds_vs_plain": "rounds (project/plain img/s)"}  # fmt: skip
PIPE_COLS = "dataset device threads workers batch project_img_s naive_img_s ratio batches error"
COMPUTE_COLS = (
    "dataset device threads model batch compile model_only_img_s project_peak_mib steps graphs error"
)
TRAIN_COLS = (
    "dataset device threads workers model batch compile precision project_img_s plain_img_s vs_plain "
    "rounds_vs_plain naive_img_s ratio model_only_img_s project_peak_mib naive_peak_mib steps graphs error"
)
NOTES = (
    "project: `train_one_epoch` fed by the trainer's own loader, built as train.py builds them. plain: a "
    "plain loop with the same network, precision and memory format, images held on the device, one crop "
    "offset per batch (scripts/bench_measure.py `plain_train`); it and the project alternate rounds, "
    "medians shown. naive: PIL "
    "transforms in a DataLoader with workers, fp32, NCHW, plain SGD, the same model. model step alone: "
    "forward, backward and optimizer on one fixed batch, the loop's ceiling. torch threads: the "
    "process's intra-op threads; rows run with --threads give no verdict."
)


def table(rows: list[dict], keys: str) -> list[str]:
    head = ["| " + " | ".join(HEAD.get(k, k) for k in keys.split()) + " |", "|" + "---|" * len(keys.split())]
    return head + ["| " + " | ".join(cell(r.get(k)) for k in keys.split()) + " |" for r in rows] + [""]


def parts(r: dict, rows: list[dict] = ()) -> list[str]:
    """What bounds a row: its parts measured alone (its own model step, and the compute-only rows of its
    model on its device: the model step on random batches, compiled or not)."""
    out = [f"model step alone {r['model_only_img_s']:,.0f} img/s"] if "model_only_img_s" in r else []
    alone = [c for c in rows if c["kind"] == "compute" and c.get("model_only_img_s")]
    for c in alone:
        if (c["model"], c["device"], c["batch"]) == (r.get("model"), r["device"], r.get("batch")):
            out.append(f"compute alone ({c['compile']}) {c['model_only_img_s']:,.0f} img/s")
    return out


def targets(rows: list[dict]) -> list[dict]:
    """The issue's targets: the best configuration for each, and for a miss what bounds it (parts alone)."""
    ok = [r for r in rows if r.get("ratio")]

    def find(kind: str, dev: str, data: str, forced: bool = False, **kw) -> list[dict]:
        found = [r for r in ok if r["kind"] == kind and r["device"] == dev and r["dataset"].startswith(data)]
        return [r for r in found if bool(r.get("forced_threads")) == forced and kw.items() <= r.items()]

    specs = [(f"CPU input pipeline, CIFAR b{b}: >= {NEED['pipeline_x']:.0f}x naive", find("pipeline", "cpu",
              "cifar", batch=b), lambda r: r["ratio"] >= NEED["pipeline_x"]) for b in (128, 512)]  # fmt: skip
    specs += [
        (f"GPU crelu b512 bf16: >= {NEED['b512_img_s']:,} img/s and >= {NEED['b512_x']}x naive",
         find("train", "cuda", "cifar", model="crelu", batch=512),
         lambda r: r["project_img_s"] >= NEED["b512_img_s"] and r["ratio"] >= NEED["b512_x"]),
        (f"GPU crelu b128 bf16: >= {NEED['b128_x']}x naive", find("train", "cuda", "cifar", model="crelu",
         batch=128), lambda r: r["ratio"] >= NEED["b128_x"]),
        (f"GPU All-CNN-B ImageNet-shaped, end to end: >= {NEED['imagenet_img_s']:,} img/s",
         find("train", "cuda", "synthetic"), lambda r: r["project_img_s"] >= NEED["imagenet_img_s"]),
    ]  # fmt: skip
    beside_plain = [r for r in rows if r.get("rounds_vs_plain") and r["device"] == "cpu"]
    out = [plain_target(beside_plain)] if beside_plain else []
    for name, found, met in specs:
        if not found:
            where = " (needs CUDA: scripts/gpu_session.sh)" if name.startswith("GPU") else ""
            out.append({"target": name, "measured": "not measured in this run" + where, "verdict": "-"})
            continue
        r = max(found, key=lambda r: (met(r), r["ratio"]))  # one that meets it, else the best ratio
        alone = find("pipeline", r["device"], r["dataset"]) if r["kind"] == "train" else []
        bounds = parts(r, rows) + [f"loader alone {p['project_img_s']:,.0f} img/s" for p in alone[:1]]
        same = {k: r[k] for k in ("batch", "model", "compile") if k in r}
        for p in find(r["kind"], r["device"], r["dataset"], forced=True, **same):  # rows run with --threads
            bounds.append(", ".join([f"with {p['threads']} torch thread(s): {p['ratio']:.1f}x", *parts(p)]))
        got = f"{r['project_img_s']:,.0f} vs {r['naive_img_s']:,.0f} img/s = {r['ratio']:.2f}x"
        got += f" (b{r['batch']}, compile {r['compile']})" if r["kind"] == "train" else ""
        verdict = "met" if met(r) else "**missed**"
        out.append({"target": name, "measured": "; ".join([got, *bounds]), "verdict": verdict})
    return out


def plain_target(rows: list[dict]) -> dict:
    """The trainer at least as fast as a plain loop on the CPU: per row, the geometric mean of the rounds'
    trainer / plain ratios with its paired 95% interval. Missed where an interval lies wholly below 1; met
    where none does and every row has one (2 rounds or more)."""
    said, slower, unsure = [], [], False
    for r in rows:
        pairs = [tuple(float(v) for v in cell.split("/")) for cell in r["rounds_vs_plain"].split()]
        d = paired_difference([math.log(p) for p, _ in pairs], [math.log(q) for _, q in pairs])
        row = f"{r['model']} {r.get('precision', '')} b{r['batch']}"
        span = f" ({math.exp(d.low):.2f}-{math.exp(d.high):.2f})" if d.low is not None else " (no interval)"
        said.append(f"{row}: {math.exp(d.delta):.2f}{span}")
        slower += [row] if d.high is not None and d.high < 0 else []
        unsure |= d.low is None
    verdict = f"**missed** ({', '.join(slower)})" if slower else "not shown" if unsure else "met"
    name = "CPU training: the trainer at least as fast as a plain loop (trainer / plain, 95% interval)"
    return {"target": name, "measured": "; ".join(said), "verdict": verdict}


def render(report: dict) -> str:
    m, rows = report["machine"], report["rows"]
    lines = ["# Training throughput: the project's loop vs a naive reference", "",
             "Written by `scripts/benchmark.py`: img/s in steady state (after warm-up) between device syncs; "
             "input-pipeline figures are medians over rounds.", "", "| | |", "|---|---|",
             f"| date | {m['date']} |",
             f"| CPU | {m['cpu']}: {m['usable_cores']} of {m['cores']} cores usable, load average "
             f"{m['load_avg']:.1f} at the start |", f"| card | {m['card'] or 'none (CPU run)'} |",
             f"| software | torch {m['torch']}, torchvision {m['torchvision']}, Python {m['python']} |",
             f"| code | `{m['code']}` |", *(f"| command | `{c}` |" for c in report["commands"]), "", NOTES,
             ""]  # fmt: skip
    pipe, train = [r for r in rows if r["kind"] == "pipeline"], [r for r in rows if r["kind"] == "train"]
    compute = [r for r in rows if r["kind"] == "compute"]
    if pipe:
        lines += [
            "## Input pipeline only (augmented batches on the device, no model)",
            "",
            *table(pipe, PIPE_COLS),
        ]
    if train:
        lines += [
            "## Training (the trainer's loop vs a naive loop, same model)",
            "",
            *table(train, TRAIN_COLS),
        ]
    if compute:
        lines += [
            "## Model step alone (random batches of the dataset's shape, no loader)",
            "",
            *table(compute, COMPUTE_COLS),
        ]
    return "\n".join([*lines, "## Targets", "", *table(targets(rows), "target measured verdict")])


def merge(paths: list[Path]) -> dict | None:
    """One report from the parts that exist (a part killed before its first row wrote none); None if none."""
    parts = [json.loads(p.read_text()) for p in paths if p.exists()]
    if not parts:
        return None
    return {"machine": parts[0]["machine"], "commands": [c for r in parts for c in r["commands"]],
            "rows": [row for r in parts for row in r["rows"]]}  # fmt: skip


def write(report: dict, out: Path) -> None:
    from crelu_repro.core import files

    out.parent.mkdir(parents=True, exist_ok=True)
    files.write_json(out.with_suffix(".json"), report)
    out.write_text(render(report))
