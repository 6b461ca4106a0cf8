"""Training img/s on this machine: the project's loop against a naive torchvision-style reference.

  python scripts/benchmark.py --models crelu relu --batch-sizes 128 512 --steps 300 --warmup 30 \
      --compile none default reduce-overhead [--imagenet] [--smoke] --out results/benchmarks.md --data ROOT
  python scripts/benchmark.py --merge a.json b.json --out results/benchmarks_gpu.md   # parts -> one report
  python scripts/benchmark.py --no-cifar --imagenet --compute-only   # All-CNN-B's model step alone, no data

Project: `crelu_repro.train.trainer.train_one_epoch` fed by the trainer's loader (DeviceLoader;
ImageNetLoader), built as train.py builds them. Naive: PIL transforms in a DataLoader with workers, fp32,
NCHW, a plain SGD loop, the same model. Input-pipeline rows time augmented batches alone (no model): on a
CPU, the figure CI can see. Defaults suit the device: 300 timed steps on CUDA, 5 on a CPU (a crelu step at
batch 128 is about 0.5 TFLOP). `--threads N` sets torch's intra-op threads (on a shared CPU they change the
loader's speed).
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from bench_measure import REPO, NaiveCifar, measure_all, project_cfg
from bench_report import cell as cell  # re-exported: tests read `benchmark.cell`
from bench_report import merge, table, targets, write
from PIL import Image
from torchvision.datasets import ImageFolder

from crelu_repro.core.distributed import cpu_name
from crelu_repro.core.errors import CreluError, DatasetError, fail
from crelu_repro.data import Splits, load_splits
from crelu_repro.data.device_loader import channel_stats
from crelu_repro.data.imagenet.loader import IMAGENET_MEAN, IMAGENET_STD, FileSplit
from crelu_repro.run.identity import code_version


def run_cifar(a, dev: torch.device, report: dict) -> None:
    extra = [f"dataset={a.dataset}", f"dataset.root={a.data}", "dataset.download=false",
             f"dataset.limit_train={a.limit_train}"]  # fmt: skip
    cfg = project_cfg(extra)
    try:  # as train.py: the training split after limits and protocol
        splits = load_splits(cfg.dataset, cfg.eval)
    except DatasetError as err:  # the loader's hint names train.py's dataset.root; here the knob is --data
        what = str(err).split(". ")[0].rstrip(".")
        raise DatasetError(
            f"{what}. Point the benchmark at the folder that holds it: --data DIR or CRELU_DATA=DIR "
            "(make benchmark ARGS='--data DIR')."
        ) from err
    mean, std = channel_stats(splits.train.images)
    base = {"dataset": f"{a.dataset} ({len(splits.train.labels):,} train)", "device": dev.type}
    naive = NaiveCifar(splits.train, mean, std)
    measure_all(a, dev, report, base, splits, naive, a.models, extra)


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
    batch = a.imagenet_batch
    steps = max(a.steps, a.naive_steps) + a.warmup if a.train else 0  # one epoch holds each measurement
    files = (max(steps, a.pipeline_warmup + a.pipeline_batches) + 1) * batch
    with tempfile.TemporaryDirectory(prefix="bench_imagenet_", dir=a.tmp) as tmp:
        kb = write_jpeg_tree(Path(tmp), files, min(10, files), unique=4 if a.smoke else 64)
        norm = T.Normalize([m / 255 for m in IMAGENET_MEAN], [s / 255 for s in IMAGENET_STD])
        tf = T.Compose([T.Resize(256), T.RandomCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
        naive_set = ImageFolder(str(Path(tmp) / "train"), tf)  # the project's crops: short side 256, 224
        paths, labels = [p for p, _ in naive_set.samples], np.asarray(naive_set.targets, np.int64)
        split = FileSplit(paths, labels)  # the same files for every split: only training is timed
        splits = Splits(split, None, split, 1000)
        base = {"dataset": f"synthetic JPEGs ({files:,}, {min(kb):.0f}-{max(kb):.0f} KB)", "device": dev.type}
        sizes, a.batch_sizes = a.batch_sizes, [batch]
        try:
            measure_all(a, dev, report, base, splits, naive_set, a.imagenet_models, imagenet_extra(a))
        finally:
            a.batch_sizes = sizes


def imagenet_extra(a) -> list[str]:
    """The ImageNet table's recipe (experiment=imagenet), with the benchmark's loader workers."""
    return ["dataset=imagenet", "sched=cosine", "optim.lr=0.1", f"dataset.num_workers={a.workers}"]


def run_compute(a, dev: torch.device, report: dict) -> None:
    """--compute-only: the model step alone on random batches of each dataset's shape (no data read)."""
    sets = [(a.models, [f"dataset={a.dataset}"], a.batch_sizes)] if a.cifar else []
    sets += [(a.imagenet_models, imagenet_extra(a), [a.imagenet_batch])] if a.imagenet else []
    sizes = a.batch_sizes
    try:
        for models, extra, a.batch_sizes in sets:
            d = project_cfg(extra).dataset
            base = {
                "dataset": f"random {d.name}-shaped batches ({d.image_size}x{d.image_size})",
                "device": dev.type,
            }
            measure_all(a, dev, report, base, None, None, models, extra)
    finally:
        a.batch_sizes = sizes


def machine(dev: torch.device) -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_name(), "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)), "load_avg": os.getloadavg()[0],
            "card": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
            "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version(), "code": code_version()}  # fmt: skip


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
    add("--no-naive", dest="naive", action="store_false", help="no naive DataLoader reference rows")
    add("--plain", action="store_true", help="a plain loop beside the trainer's: same network, precision "
        "and memory format, one crop offset per batch; they alternate --repeats rounds (CIFAR)")  # fmt: skip
    add(
        "--precision",
        nargs="+",
        default=["bf16"],
        choices=["bf16", "fp32"],
        help="trainer.bf16 of the training rows (bf16 runs only where native: CUDA, avx512_bf16/AMX CPUs)",
    )
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
    add(
        "--compute-only",
        action="store_true",
        help="the model step alone on random batches: no data, no loader",
    )
    add(
        "--compile-backend",
        default="inductor",
        help="torch.compile's backend for --compile modes (eager: trace only)",
    )
    add("--imagenet", action="store_true", help="All-CNN-B on synthetic ImageNet-shaped JPEGs too")
    add("--imagenet-models", nargs="+", default=["allcnnb_relu"])
    add("--imagenet-batch", type=int, default=256)
    add("--imagenet-decode", choices=["device", "workers"], help="ImageNetLoader's decode (default: its own)")
    add("--tmp", help="where the synthetic JPEG tree goes (default: the system's temporary folder)")
    add("--smoke", action="store_true", help="a few steps of everything: checks that it runs")
    add("--out", type=Path, default=REPO / "results" / "benchmarks.md", help="markdown; the JSON goes beside")
    add("--merge", nargs="+", type=Path, help="combine these JSON reports into --out; measure nothing")
    return defaults(p.parse_args(argv))


def defaults(a: argparse.Namespace) -> argparse.Namespace:
    """The device, the step counts that suit it, and --smoke's caps (a smaller value given stays)."""
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    a.device = torch.device("cuda" if cuda else "cpu")
    a.steps, a.warmup = (
        a.steps or (300 if cuda else 5),
        a.warmup if a.warmup is not None else (30 if cuda else 1),
    )
    if a.smoke:
        a.steps, a.warmup, a.pipeline_batches = min(a.steps, 3), min(a.warmup, 1), min(a.pipeline_batches, 3)
        a.pipeline_warmup, a.repeats = min(a.pipeline_warmup, 1), 1
        a.naive_steps = min(a.naive_steps or a.steps, a.steps)
    a.naive_steps, a.data = a.naive_steps or a.steps, str(Path(a.data).expanduser())
    a.pipeline &= not a.compute_only  # no loader to time
    return a


def main(argv: list[str] | None = None) -> dict:
    a = parse(argv)
    if a.merge:
        report = merge(a.merge)
        if report is None:
            raise CreluError(f"none of the parts exists: {' '.join(map(str, a.merge))}")
    else:
        threads, dev = torch.get_num_threads(), a.device
        cmd = " ".join(["python scripts/benchmark.py", *(sys.argv[1:] if argv is None else argv)])
        report = {"machine": machine(dev), "commands": [cmd], "rows": []}
        torch.manual_seed(0)
        torch.set_num_threads(a.threads or threads)
        try:
            if a.compute_only:
                run_compute(a, dev, report)
            if a.cifar and not a.compute_only:
                run_cifar(a, dev, report)
            if a.imagenet and not a.compute_only:
                run_imagenet(a, dev, report)
        finally:
            torch.set_num_threads(threads)
    write(report, a.out)
    short = table(report["rows"], "kind dataset batch model compile project_img_s naive_img_s ratio error")
    print("\n".join([*short, *table(targets(report["rows"]), "target measured verdict")]) + f"wrote {a.out}")
    return report


if __name__ == "__main__":
    try:
        main()
    except CreluError as err:  # the user's to fix (no data where it looked...): one line, no traceback
        sys.exit(fail(err))
