"""Training img/s on this machine: the project's loop against a naive torchvision-style reference.

  python scripts/benchmark.py --models crelu relu --batch-sizes 128 512 --steps 300 --warmup 30 \
      --compile none default reduce-overhead [--imagenet] [--smoke] --out results/benchmarks.md --data ROOT
  python scripts/benchmark.py --merge a.json b.json --out results/benchmarks_gpu.md   # parts -> one report

Project: `crelu_repro.trainer.train_one_epoch` fed by the trainer's loader (DeviceLoader; ImageNetLoader),
built as train.py builds them. Naive: PIL transforms in a DataLoader with workers, fp32, NCHW, a plain SGD
loop, the same model. Input-pipeline rows time augmented batches alone (no model): on a CPU, the figure CI
can see. Defaults suit the device: 300 timed steps on CUDA, 5 on a CPU (a crelu step at batch 128 is about
0.5 TFLOP). `--threads N` sets torch's intra-op threads (on a shared CPU they change the loader's speed).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import math
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from PIL import Image
from torch._dynamo.utils import counters
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder

from crelu_repro import runio
from crelu_repro.config import register
from crelu_repro.data import load_splits
from crelu_repro.data.cifar import Split
from crelu_repro.data.device_loader import DeviceLoader, channel_stats
from crelu_repro.distributed import Dist
from crelu_repro.models import build_model
from crelu_repro.optim import make_optimizer, make_scheduler
from crelu_repro.runtime import EpochSums, Runtime, setup_backends, synced_time
from crelu_repro.trainer import train_one_epoch

REPO = Path(__file__).resolve().parent.parent
NEED = {"pipeline_x": 10.0, "b512_img_s": 75_000, "b512_x": 3.5, "b128_x": 2.0, "imagenet_img_s": 12_000}


class Probe:
    """Feeds the trainer from `loader`; stamps a synced clock when step `mark` starts and, once `stop` steps
    ran, sets the trainer's stop flag (its SIGTERM path: it returns after the current step)."""

    def __init__(self, loader, rt: Runtime, mark: int, stop: int) -> None:
        self.loader, self.rt, self.mark, self.stop, self.done, self.t0 = loader, rt, mark, stop, 0, 0.0

    def steps_per_epoch(self, batch: int) -> int:
        return self.loader.steps_per_epoch(batch)

    def train_epoch(self, *args) -> Iterator:
        batches = iter(self.loader.train_epoch(*args))
        while self.done < self.stop:
            if self.done == self.mark:
                self.t0 = synced_time(self.rt.device)  # every warm-up step has finished
            if (batch := next(batches, None)) is None:
                return
            self.done += 1
            self.rt.stop_requested[0] = self.done == self.stop
            yield batch


def project_train(cfg: DictConfig, loader, classes: int, dev: torch.device, a) -> dict:
    """img/s of `train_one_epoch` over a.steps steps after a.warmup; then the model step alone (a bound)."""
    t, cuda = cfg.trainer, dev.type == "cuda"
    per_epoch = loader.steps_per_epoch(t.batch_size)
    t.epochs = math.ceil((a.warmup + a.steps) / per_epoch) + 1  # the lr schedule must outlast the run
    fresh(dev)
    raw = build_model(cfg.model.name, classes, cfg.model.batchnorm, cfg.model.crelu_base)
    raw = raw.to(
        dev, memory_format=torch.channels_last if cuda and t.channels_last else torch.preserve_format
    )
    optimizer = make_optimizer(raw, cfg.optim)
    scheduler = make_scheduler(optimizer, cfg.sched, t.epochs, per_epoch)
    model = torch.compile(raw, mode=t.compile_mode) if t.compile else raw
    rt = Runtime(dev, Dist(), cuda and t.bf16, progress=False)
    probe, epoch, step = Probe(loader, rt, a.warmup, a.warmup + a.steps), 0, 0
    while probe.done < probe.stop:
        step = train_one_epoch(model, probe, optimizer, scheduler, epoch, cfg, rt, EpochSums.zeros(dev), step)
        epoch, step = (epoch + 1, 0) if step >= per_epoch else (epoch, step)
    seconds, peak = synced_time(dev) - probe.t0, peak_mib(dev)
    # Recompiles (dynamic shapes...), graph breaks, CUDA graphs refused: why a compile mode is slow.
    graphs = [counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())]
    graphs = " / ".join(map(str, [*graphs, counters["inductor"]["cudagraph_skips"]]))
    x, y = next(iter(loader.train_epoch(t.batch_size, cfg.seed, 0)))

    def model_step() -> None:  # forward, backward, optimizer: no loader, scheduler, sums or host syncs
        with rt.autocast():
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    bound = timed(model_step, a.steps, min(3, a.warmup), dev)
    n = a.steps * t.batch_size
    out = {"project_img_s": n / seconds, "model_only_img_s": n / bound, "project_peak_mib": peak}
    return {**out, "steps": a.steps, **({"graphs": graphs} if t.compile else {})}


class NaiveCifar(Dataset):
    """torchvision.datasets.CIFAR10's way: one PIL image per item, then the transforms."""

    def __init__(self, split: Split, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.hwc, self.labels = split.images.transpose(0, 2, 3, 1), split.labels
        norm = T.Normalize((mean / 255).tolist(), (std / 255).tolist())
        self.tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), norm])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.tf(Image.fromarray(self.hwc[i])), int(self.labels[i])


def naive_batches(dataset: Dataset, batch: int, workers: int, dev: torch.device) -> Iterator:
    """Epoch after epoch, on `dev`; the workers stop when the generator is closed."""
    loader = DataLoader(dataset, batch, shuffle=True, num_workers=workers, pin_memory=dev.type == "cuda",
                        drop_last=True, persistent_workers=workers > 0)  # fmt: skip
    while True:
        for x, y in loader:
            yield x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)


def naive_train(name: str, classes: int, dataset: Dataset, batch: int, dev: torch.device, a) -> dict:
    if dev.type == "cuda":  # torch's defaults, whatever the project's runs in this process set
        torch.backends.cudnn.benchmark = torch.backends.cuda.matmul.allow_tf32 = False
    fresh(dev)
    model = build_model(name, classes).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    batches = naive_batches(dataset, batch, a.workers, dev)

    def step() -> None:
        x, y = next(batches)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    try:
        seconds = timed(step, a.naive_steps, a.warmup, dev)
    finally:
        batches.close()
    return {"naive_img_s": a.naive_steps * batch / seconds, "naive_peak_mib": peak_mib(dev)}


def timed(step: Callable[[], object], steps: int, warmup: int, dev: torch.device) -> float:
    for _ in range(warmup):
        step()
    t0 = synced_time(dev)
    for _ in range(steps):
        step()
    return synced_time(dev) - t0


def fresh(dev: torch.device) -> None:
    """As in a new process: no compiled graphs (nor their CUDA-graph memory pools) or dynamic-shape guesses
    left by an earlier run; the peak-memory counter restarts from what is allocated now."""
    torch._dynamo.reset()
    counters.clear()
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)


def peak_mib(dev: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None


def epochs_of(loader, batch: int) -> Iterator:
    for epoch in count():
        yield from loader.train_epoch(batch, 0, epoch)


def pipeline_rates(sources: dict[str, Callable[[], Iterator]], batch: int, a, dev: torch.device) -> dict:
    """Median img/s of each source over a.repeats rounds; the sources take turns (the CPUs are shared)."""
    rounds: dict[str, list[float]] = {k: [] for k in sources}
    for _ in range(a.repeats):
        for name, make in sources.items():
            batches = make()
            try:
                seconds = timed(lambda b=batches: next(b), a.pipeline_batches, a.pipeline_warmup, dev)
            finally:
                batches.close()
            rounds[name].append(a.pipeline_batches * batch / seconds)
    return {**{f"{k}_img_s": statistics.median(v) for k, v in rounds.items()}, "rounds": rounds}


def measure_all(
    a, dev, report: dict, base: dict, make_loader, naive_set, classes: int, models, extra
) -> None:
    """Pipeline rows per batch size, then training rows per model x batch x compile mode. Fail soft: an
    error (OOM, compile failure...) is recorded in its row and the rest goes on; the report is rewritten."""

    def run(row: dict, fn: Callable[[], dict]) -> None:
        row.update(threads=torch.get_num_threads(), forced_threads=a.threads, workers=a.workers)
        print(f"-> {row}", flush=True)
        try:
            row.update(fn())
        except Exception as err:
            row["error"] = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:300]}"
        if row.get("naive_img_s") and row.get("project_img_s"):
            row["ratio"] = row["project_img_s"] / row["naive_img_s"]
        print("   " + ", ".join(f"{k}={cell(v)}" for k, v in row.items() if k != "rounds"), flush=True)
        report["rows"].append(row)
        write(report, a.out)

    for batch in a.batch_sizes if a.pipeline else []:

        def pipe(batch: int = batch) -> dict:
            ld = make_loader(project_cfg(extra))  # the trainer's loader on this device, default settings
            sources = {"project": lambda: epochs_of(ld, batch)}
            sources["naive"] = lambda: naive_batches(naive_set, batch, a.workers, dev)
            return pipeline_rates(sources, batch, a, dev)

        run({"kind": "pipeline", **base, "batch": batch, "batches": a.pipeline_batches}, pipe)
    for model in models if a.train else []:
        for batch in a.batch_sizes:
            naive: dict = {}  # once per (model, batch): the reference does not depend on the compile mode
            for mode in a.compile:

                def both(
                    model: str = model, batch: int = batch, mode: str = mode, naive: dict = naive
                ) -> dict:
                    compiled = [f"trainer.compile={str(mode != 'none').lower()}"]
                    compiled += [f"trainer.compile_mode={mode}"] if mode != "none" else []
                    cfg = project_cfg([f"model={model}", f"trainer.batch_size={batch}", *extra, *compiled])
                    setup_backends(cfg, dev)
                    out = project_train(cfg, make_loader(cfg), classes, dev, a)
                    if not naive:
                        naive.update(naive_train(model, classes, naive_set, batch, dev, a))
                    return {**out, **naive}

                run({"kind": "train", **base, "model": model, "batch": batch, "compile": mode}, both)


def project_cfg(overrides: list[str]) -> DictConfig:
    register()
    with initialize_config_dir(str(REPO / "configs"), version_base="1.3"):
        return compose("train", overrides=["trainer.progress=false", *overrides])


def run_cifar(a, dev: torch.device, report: dict) -> None:
    extra = [f"dataset={a.dataset}", f"dataset.root={a.data}", "dataset.download=false",
             f"dataset.limit_train={a.limit_train}"]  # fmt: skip
    cfg = project_cfg(extra)
    splits = load_splits(cfg.dataset, cfg.eval)  # as train.py: the training split after limits and protocol
    mean, std = channel_stats(splits.train.images)

    def loader(cfg: DictConfig) -> DeviceLoader:  # the trainer's training loader
        amp, cl = dev.type == "cuda" and cfg.trainer.bf16, dev.type == "cuda" and cfg.trainer.channels_last
        dtype, d = torch.bfloat16 if amp else torch.float32, cfg.dataset
        try:
            from crelu_repro.data import make_loaders
        except ImportError:  # before make_loaders, trainer._train built it here
            tr = splits.train
            return DeviceLoader(tr.images, tr.labels, mean, std, dev, dtype, cl, d.crop_padding, d.flip)
        return make_loaders(splits, d, dev, dtype, cl, cfg.eval.get("train_error_images", 0)).train

    base = {"dataset": f"{a.dataset} ({len(splits.train.labels):,} train)", "device": dev.type}
    naive = NaiveCifar(splits.train, mean, std)
    measure_all(a, dev, report, base, loader, naive, splits.num_classes, a.models, extra)


def jpeg_bytes(rng: np.random.Generator) -> bytes:
    """A photo-like 500x375 (a quarter 375x500) baseline JPEG of 70-110 KB: smooth field, stripes, noise."""
    w, h = (500, 375) if rng.random() < 0.75 else (375, 500)
    field = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = 30 * np.sin(xx * rng.uniform(0.05, 0.3) + yy * rng.uniform(0.05, 0.3))[..., None]
    img = np.asarray(field, np.float32) + stripes + rng.normal(0, rng.uniform(10, 16), (h, w, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def write_jpeg_tree(root: Path, files: int, classes: int = 10, unique: int = 64) -> list[float]:
    """root/train/<wnid>/*.JPEG: `files` hard links to `unique` distinct JPEGs (decoding costs per file; disk
    space does not); returns the distinct files' sizes in KB."""
    rng = np.random.default_rng(0)
    (root / "pool").mkdir(parents=True)
    pool = [root / "pool" / f"{i}.jpg" for i in range(unique)]
    for p in pool:
        p.write_bytes(jpeg_bytes(rng))
    for c in range(classes):
        (root / "train" / f"n{c:08d}").mkdir(parents=True)
        for i in range(c, files, classes):
            os.link(pool[i % unique], root / "train" / f"n{c:08d}" / f"n{c:08d}_{i}.JPEG")
    return [p.stat().st_size / 1e3 for p in pool]


def run_imagenet(a, dev: torch.device, report: dict) -> None:
    try:
        from crelu_repro.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, ImageNetLoader
    except ImportError as err:
        print(f"--imagenet skipped: crelu_repro.data.imagenet.ImageNetLoader is not available ({err})")
        return
    batch = a.imagenet_batch
    steps = max(a.steps, a.naive_steps) + a.warmup if a.train else 0  # one epoch holds each measurement
    files = (max(steps, a.pipeline_warmup + a.pipeline_batches) + 1) * batch
    with tempfile.TemporaryDirectory(prefix="bench_imagenet_", dir=a.tmp) as tmp:
        kb = write_jpeg_tree(Path(tmp), files, min(10, files), unique=4 if a.smoke else 64)
        norm = T.Normalize([m / 255 for m in IMAGENET_MEAN], [s / 255 for s in IMAGENET_STD])
        tf = T.Compose([T.Resize(256), T.RandomCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
        naive_set = ImageFolder(str(Path(tmp) / "train"), tf)  # the project's crops: short side 256, 224
        paths, labels = [p for p, _ in naive_set.samples], np.asarray(naive_set.targets, np.int64)
        cuda = dev.type == "cuda"

        def loader(cfg: DictConfig) -> ImageNetLoader:
            amp, cl = cuda and cfg.trainer.bf16, cuda and cfg.trainer.channels_last
            dtype, how = torch.bfloat16 if amp else torch.float32, {"decode": a.imagenet_decode}
            return ImageNetLoader(paths, labels, dev, dtype, cl, num_workers=a.workers, **how)

        base = {"dataset": f"synthetic JPEGs ({files:,}, {min(kb):.0f}-{max(kb):.0f} KB)", "device": dev.type}
        sizes, a.batch_sizes = a.batch_sizes, [batch]
        try:
            extra = ["dataset=imagenet", "sched=cosine", "optim.lr=0.1"]  # configs/experiment/imagenet.yaml
            measure_all(a, dev, report, base, loader, naive_set, 1000, a.imagenet_models, extra)
        finally:
            a.batch_sizes = sizes


def cell(v) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return "-" if v is None else str(v)


HEAD = {"dataset": "data", "project_img_s": "project img/s", "naive_img_s": "naive img/s",
        "ratio": "project / naive",
        "model_only_img_s": "model step alone img/s", "project_peak_mib": "peak MiB project",
        "naive_peak_mib": "peak MiB naive", "batches": "batches per round", "steps": "timed steps",
        "graphs": "compiled graphs / breaks / cudagraph skips", "threads": "torch threads",
        "workers": "naive workers"}  # fmt: skip
PIPE_COLS = "dataset device threads workers batch project_img_s naive_img_s ratio batches error"
TRAIN_COLS = (
    "dataset device threads workers model batch compile project_img_s naive_img_s ratio model_only_img_s "
    "project_peak_mib naive_peak_mib steps graphs error"
)
NOTES = (
    "project: `train_one_epoch` fed by the trainer's own loader, built as train.py builds them. naive: PIL "
    "transforms in a DataLoader with workers, fp32, NCHW, plain SGD, the same model. model step alone: "
    "forward, backward and optimizer on one fixed batch, the loop's ceiling. torch threads: the "
    "process's intra-op threads; rows run with --threads give no verdict."
)


def table(rows: list[dict], keys: str) -> list[str]:
    head = ["| " + " | ".join(HEAD.get(k, k) for k in keys.split()) + " |", "|" + "---|" * len(keys.split())]
    return head + ["| " + " | ".join(cell(r.get(k)) for k in keys.split()) + " |" for r in rows] + [""]


def parts(r: dict) -> list[str]:
    """What bounds a row: its parts measured alone."""
    return [f"model step alone {r['model_only_img_s']:,.0f} img/s"] if "model_only_img_s" in r else []


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
    out = []
    for name, found, met in specs:
        if not found:
            where = " (needs CUDA: scripts/gpu_bench.sh)" if name.startswith("GPU") else ""
            out.append({"target": name, "measured": "not measured in this run" + where, "verdict": "-"})
            continue
        r = max(found, key=lambda r: (met(r), r["ratio"]))  # one that meets it, else the best ratio
        alone = find("pipeline", r["device"], r["dataset"]) if r["kind"] == "train" else []
        bounds = parts(r) + [f"loader alone {p['project_img_s']:,.0f} img/s" for p in alone[:1]]
        same = {k: r[k] for k in ("batch", "model", "compile") if k in r}
        for p in find(r["kind"], r["device"], r["dataset"], forced=True, **same):  # rows run with --threads
            bounds.append(", ".join([f"with {p['threads']} torch thread(s): {p['ratio']:.1f}x", *parts(p)]))
        got = f"{r['project_img_s']:,.0f} vs {r['naive_img_s']:,.0f} img/s = {r['ratio']:.2f}x"
        got += f" (b{r['batch']}, compile {r['compile']})" if r["kind"] == "train" else ""
        verdict = "met" if met(r) else "**missed**"
        out.append({"target": name, "measured": "; ".join([got, *bounds]), "verdict": verdict})
    return out


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
    return "\n".join([*lines, "## Targets", "", *table(targets(rows), "target measured verdict")])


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    runio.write_json(out.with_suffix(".json"), report)
    out.write_text(render(report))


def machine(dev: torch.device) -> dict:
    cpu = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
           if ln.startswith("model name")] if Path("/proc/cpuinfo").exists() else []  # fmt: skip
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": (cpu or [platform.processor()])[0], "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)), "load_avg": os.getloadavg()[0],
            "card": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version(), "code": runio.code_version()}  # fmt: skip


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = p.add_argument
    add("--models", nargs="+", default=["crelu"])
    add("--batch-sizes", nargs="+", type=int, default=[128, 512])
    add("--compile", nargs="+", default=["none"], help="none default reduce-overhead max-autotune ...")
    add("--steps", type=int, help="timed training steps (default: 300 on CUDA, 5 on a CPU)")
    add(
        "--warmup",
        type=int,
        help="untimed steps first: compiling, autotuning (default: 30 on CUDA, 1 on a CPU)",
    )
    add("--naive-steps", type=int, help="timed steps of the naive reference (default: --steps)")
    add("--pipeline-batches", type=int, default=60, help="timed batches per input-pipeline round")
    add("--pipeline-warmup", type=int, default=5)
    add("--repeats", type=int, default=3, help="input-pipeline rounds (the median is reported)")
    add("--workers", type=int, default=min(8, len(os.sched_getaffinity(0))), help="naive DataLoader workers")
    add(
        "--data", default=os.environ.get("CRELU_DATA", "~/.cache/crelu_repro"), help="has cifar-10-batches-py"
    )
    add("--dataset", default="cifar10", choices=["cifar10", "cifar100"])
    add("--limit-train", type=int, default=0, help="the first N training images (0 = all)")
    add("--device", default="auto", choices=["auto", "cpu", "cuda"])
    add(
        "--threads", type=int, help="torch intra-op threads of this process (default: torch's, the trainer's)"
    )
    add("--no-train", dest="train", action="store_false", help="input pipelines only")
    add("--no-pipeline", dest="pipeline", action="store_false", help="training only")
    add("--no-cifar", dest="cifar", action="store_false", help="skip CIFAR (with --imagenet)")
    add("--imagenet", action="store_true", help="All-CNN-B on synthetic ImageNet-shaped JPEGs too")
    add("--imagenet-models", nargs="+", default=["allcnnb_relu"])
    add("--imagenet-batch", type=int, default=256)
    add("--imagenet-decode", choices=["device", "workers"], help="ImageNetLoader's decode (default: its own)")
    add("--tmp", help="where the synthetic JPEG tree goes (default: the system's temporary folder)")
    add("--smoke", action="store_true", help="a few steps of everything: checks that it runs")
    add("--out", type=Path, default=REPO / "results" / "benchmarks.md", help="markdown; the JSON goes beside")
    add("--merge", nargs="+", type=Path, help="combine these JSON reports into --out; measure nothing")
    a = p.parse_args(argv)
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    a.device = torch.device("cuda" if cuda else "cpu")
    a.steps, a.warmup = (
        a.steps or (300 if cuda else 5),
        a.warmup if a.warmup is not None else (30 if cuda else 1),
    )
    if a.smoke:  # caps: a smaller value given on the command line stays
        a.steps, a.warmup, a.pipeline_batches = min(a.steps, 3), min(a.warmup, 1), min(a.pipeline_batches, 3)
        a.pipeline_warmup, a.repeats = min(a.pipeline_warmup, 1), 1
    a.naive_steps, a.data = a.naive_steps or a.steps, str(Path(a.data).expanduser())
    return a


def main(argv: list[str] | None = None) -> dict:
    a = parse(argv)
    if a.merge:  # the parts that exist (a part killed before its first row wrote none)
        parts = [json.loads(p.read_text()) for p in a.merge if p.exists()]
        report = {"machine": parts[0]["machine"], "commands": [c for r in parts for c in r["commands"]],
                  "rows": [row for r in parts for row in r["rows"]]}  # fmt: skip
    else:
        threads, dev = torch.get_num_threads(), a.device
        cmd = " ".join(["python scripts/benchmark.py", *(sys.argv[1:] if argv is None else argv)])
        report = {"machine": machine(dev), "commands": [cmd], "rows": []}
        torch.manual_seed(0)
        torch.set_num_threads(a.threads or threads)
        try:
            if a.cifar:
                run_cifar(a, dev, report)
            if a.imagenet:
                run_imagenet(a, dev, report)
        finally:
            torch.set_num_threads(threads)
    write(report, a.out)
    short = table(report["rows"], "kind dataset batch model compile project_img_s naive_img_s ratio error")
    print("\n".join([*short, *table(targets(report["rows"]), "target measured verdict")]) + f"wrote {a.out}")
    return report


if __name__ == "__main__":
    main()
