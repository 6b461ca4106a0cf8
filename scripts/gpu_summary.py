"""The GPU session's summary: a few small files in the summary folder and the table printed last.

  python scripts/gpu_summary.py --runs RUNS_DIR --out SUMMARY_DIR --budget 540 --epochs 40 [--rehearsal]
  python scripts/gpu_summary.py --digest RUNS_DIR/bench/eager.json      # one line per measured row

Reads what scripts/gpu_session.sh left in RUNS_DIR (steps.tsv, bench/*.json, the check and det runs, logs/)
and writes into SUMMARY_DIR exactly FILES (at most 8, each under 1 MB; no checkpoints, the logs compressed):
summary.md / .json (every figure beside its target, the steps, the CUDA paths exercised), env.txt, the
merged benchmark report benchmarks.md / .json, logs.tar.gz. Other files in SUMMARY_DIR are left alone.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import sys
import tarfile
from pathlib import Path

from bench_report import NEED, cell, merge, table, targets, write

FILES = ("summary.md", "summary.json", "env.txt", "benchmarks.md", "benchmarks.json", "logs.tar.gz")
MAX_BYTES = 1_000_000
FIGURE_COLS = "figure measured target verdict"
# The reference accuracy on the shared CIFAR-10 subset (../shared/data/README.md): an independent plain
# PyTorch trainer on one H200, BN after each conv, reflect-pad-4 crop + flip, SGD Nesterov, one-cycle lr 0.05
# (pct_start 0.15), batch 128, bf16, 40 epochs, 2 seeds: mean test error %. A run agrees within TOLERANCE.
REFERENCE = {"relu": 13.2, "crelu": 14.0}
REFERENCE_EPOCHS = 40
TOLERANCE = 1.0
# Which step exercises which CUDA path (the trainer's CUDA defaults: bf16 autocast, channels_last, fused SGD).
PATHS = {
    "bf16 autocast, channels_last, fused SGD": ("eager", "check-relu", "check-crelu"),
    "torch.compile (inductor)": ("b512-default", "b128-default", "imagenet-compiled"),
    "CUDA graphs (compile reduce-overhead)": ("b128-reduce-overhead", "b512-reduce-overhead"),
    "nvJPEG decode, prefetch thread on a side stream": ("imagenet", "imagenet-compiled"),
    "trainer.deterministic=true (cuBLAS workspace, deterministic cuDNN)": ("det",),
}


def steps_of(runs: Path) -> list[dict]:
    path, keys = runs / "steps.tsv", ("step", "status", "exit", "seconds", "limit", "note")
    lines = path.read_text().splitlines() if path.exists() else []
    return [dict(zip(keys, (ln.split("\t") + [""] * 6)[:6], strict=True)) for ln in lines]


def result_of(run_dir: Path):
    """The run's Result, None (no result.json) or the ResultError that says why it cannot be read."""
    from crelu_repro.core.results import ResultError, read_result

    try:
        return read_result(run_dir)
    except ResultError as err:
        return err


def accuracy(runs: Path, epochs: int) -> list[dict]:
    """The check runs against the reference: within TOLERANCE, or why no verdict."""
    out = []
    for model, ref in REFERENCE.items():
        row = {"model": model, "epochs": epochs, "reference": ref}
        run = runs / "check" / f"{model}_s0"
        r = result_of(run)
        if r is None or isinstance(r, Exception):
            out.append(
                {**row, "verdict": (f"no result ({r})" if r else "no result") if run.exists() else "not run"}
            )
            continue
        row.update(test_error=r.test_error, images_per_s=r.images_per_s, device=r.device, wall_s=r.wall_s)
        if r.epochs < REFERENCE_EPOCHS:
            verdict = (
                f"not comparable: {r.epochs} of {REFERENCE_EPOCHS} epochs (shows that the run works, "
                "not its accuracy)"
            )
        else:
            verdict = "within" if abs(r.test_error - ref) <= TOLERANCE else "**outside**"
        out.append({**row, "difference": r.test_error - ref, "verdict": verdict})
    return out


def determinism(runs: Path) -> dict:
    """The two deterministic runs: the same loss history and test error, to the last bit."""
    a, b = (result_of(runs / "det" / x) for x in "ab")
    if not all(r is not None and not isinstance(r, Exception) for r in (a, b)):
        return {"verdict": "not run" if a is None and b is None else "no result", "measured": "-"}
    la, lb = [h.train_loss for h in a.history], [h.train_loss for h in b.history]
    same = la == lb and a.test_error == b.test_error
    got = "identical" if same else f"differ: loss {la} vs {lb}, test error {a.test_error} vs {b.test_error}"
    return {"verdict": "met" if same else "**missed**", "measured": got, "device": a.device}


def figures(rows: list[dict], acc: list[dict], det: dict) -> list[dict]:
    """Every figure beside its target: the benchmark's targets, the accuracy, determinism, the bounds."""
    out = [
        {
            "figure": t["target"].split(":")[0],
            "measured": t["measured"],
            "target": t["target"].split(": ", 1)[-1],
            "verdict": t["verdict"],
        }
        for t in targets(rows)
    ]
    for c in (r for r in rows if r["kind"] == "compute" and r.get("model_only_img_s")):
        out.append(
            {
                "figure": f"{c['model']} b{c['batch']} model step alone ({c['compile']}, {c['device']})",
                "measured": f"{c['model_only_img_s']:,.0f} img/s",
                "target": f"a bound: end to end >= {NEED['imagenet_img_s']:,} needs it above",
                "verdict": "-",
            }
        )
    for a in acc:
        got = f"{a['test_error']:.2f}% ({a['epochs']} epochs, {a['device']})" if "test_error" in a else "-"
        out.append(
            {
                "figure": f"{a['model']} test error, CIFAR-10 subset, seed 0",
                "measured": got,
                "target": f"{a['reference']}% +- {TOLERANCE} ({REFERENCE_EPOCHS} epochs, H200 reference)",
                "verdict": a["verdict"],
            }
        )
    out.append(
        {
            "figure": "trainer.deterministic=true, two runs",
            "measured": det["measured"],
            "target": "identical loss history and test error",
            "verdict": det["verdict"],
        }
    )
    return out


def paths(steps: list[dict], cuda: bool) -> list[dict]:
    done = {s["step"]: s["status"] for s in steps}
    out = []
    for path, names in PATHS.items():
        ran = [n for n in names if n in done]
        status = ", ".join(f"{n}: {done[n]}" for n in ran) or "no step ran it"
        out.append({"path": path, "by": status if cuda else f"not exercised (CPU rehearsal; {status})"})
    return out


def logs_archive(runs: Path, limit: int) -> bytes:
    """logs/*.log, steps.tsv and the runs' result.json and train.log, each cut to its last `limit` bytes."""
    members = sorted((runs / "logs").glob("*.log")) + [runs / "steps.tsv"]
    members += sorted(runs.glob("check/*/result.json")) + sorted(runs.glob("det/*/result.json"))
    members += sorted(runs.glob("check/*/train.log")) + sorted(runs.glob("det/*/train.log"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in (p for p in members if p.is_file()):
            data = path.read_bytes()[-limit:]
            info = tarfile.TarInfo(str(path.relative_to(runs)))
            info.size, info.mtime = len(data), int(path.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def render(info: dict) -> str:
    m = info["machine"]
    lines = [
        f"# GPU session, {info['date']}{' (CPU rehearsal)' if info['rehearsal'] else ''}",
        "",
        f"Card: {m.get('card') or 'none (CPU)'}; torch {m.get('torch', '?')}, torchvision "
        f"{m.get('torchvision', '?')}; code `{info['code']}`. Budget {info['budget_s']} s, steps took "
        f"{info['steps_s']} s.{' Stopped by ' + info['stopped'] + '.' if info['stopped'] else ''}",
        "",
        "## Figures against their targets",
        "",
        *table(info["figures"], FIGURE_COLS),
        "## Steps",
        "",
        *table(info["steps"], "step status seconds limit note"),
        "## CUDA paths exercised",
        "",
        *table(info["paths"], "path by"),
        "## Accuracy runs",
        "",
        *table(info["accuracy"], "model epochs test_error reference difference verdict images_per_s wall_s"),
        "The check runs at the trainer's defaults with the reference's warm-up (sched.pct_start=0.15); the "
        "reference pads crops by reflection, the trainer with zeros. A run of fewer than "
        f"{REFERENCE_EPOCHS} epochs is not compared with the reference: it shows that the path runs.",
        "",
        f"Files here: {', '.join(FILES)}. Full runs and logs stayed in `{info['runs']}` on the machine.",
        "",
    ]
    return "\n".join(lines)


def summarize(a: argparse.Namespace) -> int:
    from crelu_repro.core import files
    from crelu_repro.core.errors import FAILED
    from crelu_repro.run.identity import code_version

    out, runs = a.out, a.runs
    out.mkdir(parents=True, exist_ok=True)
    steps = steps_of(runs)
    report = merge(sorted((runs / "bench").glob("*.json")))
    rows = report["rows"] if report else []
    acc, det = accuracy(runs, a.epochs), determinism(runs)
    cuda = any(r["device"] == "cuda" for r in rows) or any(x.get("device") == "cuda" for x in (*acc, det))
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "rehearsal": a.rehearsal,
        "budget_s": a.budget,
        "stopped": a.stopped,
        "runs": str(runs),
        "steps_s": sum(int(s["seconds"] or 0) for s in steps),
        "code": code_version(),
        "machine": report["machine"] if report else {},
        "steps": steps,
        "accuracy": acc,
        "determinism": det,
        "figures": figures(rows, acc, det),
        "paths": paths(steps, cuda),
        "files": FILES,
    }
    env = runs / "logs" / "env.log"
    (out / "env.txt").write_text(env.read_text()[-200_000:] if env.exists() else "the env step did not run\n")
    if report:
        write(report, out / "benchmarks.md")  # and benchmarks.json beside it
    else:
        (out / "benchmarks.md").write_text("No benchmark step finished a row.\n")
        files.write_json(out / "benchmarks.json", {"rows": []})
    limit = 256_000
    while len(archive := logs_archive(runs, limit)) >= MAX_BYTES and limit > 1_000:
        limit //= 4  # keep the ends of the logs, where the errors are
    (out / "logs.tar.gz").write_bytes(archive)
    files.write_json(out / "summary.json", info)
    (out / "summary.md").write_text(render(info))
    big = [
        f"{f} ({(out / f).stat().st_size:,} bytes)" for f in FILES if (out / f).stat().st_size >= MAX_BYTES
    ]
    if big:
        print(f"error: over {MAX_BYTES:,} bytes: {', '.join(big)}", file=sys.stderr)
    print(f"== wrote {len(FILES)} files to {out}: {', '.join(FILES)}\n")
    print("\n".join([*table(steps, "step status seconds limit note"), *table(info["figures"], FIGURE_COLS)]))
    if big:
        return FAILED
    bad = [s["step"] for s in steps if s["status"] not in ("ok", "skipped")]
    return FAILED if bad or a.stopped else 0


def digest(path: Path) -> None:
    """One line per row of a measurement's JSON part (commas inside values are kept, unlike a sed)."""
    for r in json.loads(path.read_text())["rows"]:
        keys = (
            "kind",
            "model",
            "batch",
            "compile",
            "project_img_s",
            "naive_img_s",
            "ratio",
            "model_only_img_s",
            "graphs",
            "error",
        )
        print("   " + ", ".join(f"{k}={cell(r[k])}" for k in keys if r.get(k) is not None), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--budget", type=int, default=540)
    p.add_argument("--epochs", type=int, default=REFERENCE_EPOCHS)
    p.add_argument("--rehearsal", action="store_true")
    p.add_argument("--stopped", default="", help="the signal that stopped the session, if one did")
    p.add_argument("--digest", type=Path, help="print one line per row of this JSON part and stop")
    a = p.parse_args(argv)
    if a.digest:
        digest(a.digest)
        return 0
    if not (a.runs and a.out):
        p.error("--runs and --out are needed")
    return summarize(a)


if __name__ == "__main__":
    sys.exit(main())
