"""The benchmark's measurements: the project's loop (`train_one_epoch` fed by the trainer's loader) and the
naive torchvision-style reference timed on one model and batch size, input pipelines timed alone, and
`measure_all`, which runs every configuration and records each row (an error included) in the report.
"""

from __future__ import annotations

import copy
import gc
import itertools
import statistics
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms as T
from bench_report import cell, write
from omegaconf import DictConfig
from PIL import Image
from torch._dynamo.utils import counters
from torch.utils.data import DataLoader, Dataset

from crelu_repro.core.distributed import Dist
from crelu_repro.data import Split, Splits, feeder_for
from crelu_repro.data.device_loader import channel_stats
from crelu_repro.models import build_model, build_variant
from crelu_repro.run.compose import compose
from crelu_repro.train.build import build, make_optimizer, make_runtime, make_scheduler, wrap
from crelu_repro.train.probe import Probe, outlasting_epochs, step_key
from crelu_repro.train.session import setup_backends, synced_time

REPO = Path(__file__).resolve().parent.parent


def project_train(cfg: DictConfig, splits: Splits, dev: torch.device, a) -> dict:
    """img/s of `train_one_epoch` over a.steps steps after a.warmup, on what `build` makes of `cfg` (the
    trainer's own build step); then the model step alone (a bound)."""
    t = cfg.trainer
    t.epochs = outlasting_epochs(cfg, a.warmup + a.steps, len(splits.train.labels))  # the lr outlasts
    fresh(dev)
    setup_backends(cfg, dev)
    built = build(cfg, dev, Dist(), splits)
    if a.imagenet_decode and hasattr(built.loaders.train, "decode"):
        built.loaders.train.decode = a.imagenet_decode  # the benchmark's own comparison of decode paths
    seconds = Probe(built.loaders.train, a.warmup, a.warmup + a.steps, dev).run(built, cfg)
    peak, rt = peak_mib(dev), built.rt
    # Recompiles (dynamic shapes...), graph breaks, CUDA graphs refused: why a compile mode is slow.
    graphs = [counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())]
    graphs = " / ".join(map(str, [*graphs, counters["inductor"]["cudagraph_skips"]]))
    x, y = next(iter(built.loaders.train.train_epoch(t.batch_size, cfg.seed, 0)))
    bound = model_step_rate(built.model, built.optimizer, rt, x, y, a.steps, min(3, a.warmup), dev)
    out = {
        "project_img_s": a.steps * t.batch_size / seconds,
        "model_only_img_s": bound,
        "project_peak_mib": peak,
    }
    return {**out, "steps": a.steps, **({"graphs": graphs} if t.compile else {})}


def plain_train(cfg: DictConfig, splits: Splits, dev: torch.device, a) -> dict:
    """img/s of a plain loop, the reference the trainer must keep up with: the same network, SGD and
    schedule, precision and memory format as the trainer's run of `cfg` (so both compute on the same kind
    of numbers), the images held on the device as uint8, one crop offset and one flip per batch; no
    running sums, stop checks, fault hooks or progress."""
    fresh(dev)
    setup_backends(cfg, dev)
    rt, batch, pad = make_runtime(cfg, dev, Dist()), cfg.trainer.batch_size, cfg.dataset.crop_padding
    net = build_variant(cfg.model, splits.num_classes).to(dev, memory_format=rt.memory_format)
    opt = make_optimizer(net, cfg.optim)
    epochs = outlasting_epochs(cfg, a.warmup + a.steps, len(splits.train.labels))  # as the trainer's probe
    sched = make_scheduler(opt, cfg.sched, epochs, len(splits.train.labels) // batch)
    images = torch.from_numpy(splits.train.images).to(dev)  # (N, 3, H, W) uint8
    labels = torch.from_numpy(splits.train.labels).to(dev)  # (N,)
    mean, std = (s.to(dev).view(1, 3, 1, 1) for s in channel_stats(splits.train.images))
    size, gen = images.shape[-1], torch.Generator().manual_seed(cfg.seed)

    def step() -> None:
        idx = torch.randint(len(labels), (batch,), generator=gen).to(dev)
        dy, dx, flip = torch.randint(0, 2 * pad + 1, (3,), generator=gen).tolist()
        x = F.pad(images[idx].float(), (pad,) * 4)[..., dy : dy + size, dx : dx + size]  # (B, 3, H, W)
        x = ((x.flip(-1) if flip % 2 else x) - mean) / std
        x = x.to(rt.dtype).contiguous(memory_format=rt.memory_format)
        with rt.autocast():
            loss = F.cross_entropy(net(x).float(), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()

    return {"plain_img_s": a.steps * batch / timed(step, a.steps, a.warmup, dev)}


def model_step_rate(
    model, optimizer, rt, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int, dev
) -> float:
    """img/s of forward, backward and optimizer on one fixed batch: no loader, scheduler, sums or syncs."""

    def model_step() -> None:
        with rt.autocast():
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return steps * x.shape[0] / timed(model_step, steps, warmup, dev)


def compute_alone(cfg: DictConfig, dev: torch.device, a) -> dict:
    """The model step alone on a random batch of the dataset's shape, built as the trainer builds it (bf16,
    channels_last, fused SGD, compile): the ceiling of end to end, with no data on disk."""
    fresh(dev)
    setup_backends(cfg, dev)
    rt, b, size = make_runtime(cfg, dev, Dist()), cfg.trainer.batch_size, cfg.dataset.image_size
    classes = cfg.dataset.num_classes
    raw = build_variant(cfg.model, classes).to(dev, memory_format=rt.memory_format)
    optimizer = make_optimizer(raw, cfg.optim)
    x = torch.randn(b, 3, size, size, device=dev).to(rt.dtype).contiguous(memory_format=rt.memory_format)
    y = torch.randint(0, classes, (b,), device=dev)
    rate = model_step_rate(wrap(raw, cfg, Dist()), optimizer, rt, x, y, a.steps, a.warmup, dev)
    graphs = [counters["stats"]["unique_graphs"], sum(counters["graph_break"].values())]
    graphs = " / ".join(map(str, [*graphs, counters["inductor"]["cudagraph_skips"]]))
    out = {"model_only_img_s": rate, "project_peak_mib": peak_mib(dev), "steps": a.steps}
    return {**out, **({"graphs": graphs} if cfg.trainer.compile else {})}


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


def measure_all(a, dev, report: dict, base: dict, splits: Splits, naive_set, models, extra) -> None:
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
            cfg = project_cfg(extra)  # the trainer's loader on this device, default settings
            rt = make_runtime(cfg, dev, Dist())
            feed = feeder_for(splits, cfg.dataset, dev, rt.dtype, rt.channels_last)
            ld = feed(splits.train, True)  # the trainer's training loader alone
            sources = {"project": lambda: epochs_of(ld, batch)}
            sources["naive"] = lambda: naive_batches(naive_set, batch, a.workers, dev)
            return pipeline_rates(sources, batch, a, dev)

        run({"kind": "pipeline", **base, "batch": batch, "batches": a.pipeline_batches}, pipe)
    for model in models if a.train else []:
        for batch in a.batch_sizes:
            naive: dict = {}  # once per (model, batch): the reference does not depend on the compile mode
            for mode, precision in itertools.product(a.compile, a.precision):

                def both(
                    model: str = model, batch: int = batch, mode: str = mode, naive: dict = naive,
                    precision: str = precision,
                ) -> dict:  # fmt: skip
                    overrides = [f"model={model}", f"trainer.batch_size={batch}", *extra, *compiled(a, mode)]
                    cfg = project_cfg([*overrides, f"trainer.bf16={precision == 'bf16'}"])
                    if a.compute_only:
                        return {**step_key(cfg), **compute_alone(cfg, dev, a)}
                    out = project_and_plain(cfg, splits, dev, a)
                    if a.naive and not naive:
                        naive.update(naive_train(model, splits.num_classes, naive_set, batch, dev, a))
                    return {**step_key(cfg), **out, **naive}  # step_key: how `make plan` finds the row

                kind = "compute" if a.compute_only else "train"
                asked = project_cfg([f"trainer.bf16={precision == 'bf16'}", *extra])  # (the model: both()'s)
                used = "bf16" if make_runtime(asked, dev, Dist()).amp else "fp32"  # (bf16 only where native)
                row = {
                    "kind": kind,
                    **base,
                    "model": model,
                    "batch": batch,
                    "compile": mode,
                    "precision": used,
                }
                run(row, both)


def project_and_plain(cfg: DictConfig, splits: Splits, dev: torch.device, a) -> dict:
    """The trainer's rate, and with --plain the plain loop's beside it: the two alternate for --repeats
    rounds, which goes first alternating too (a machine's load, or what the first run warms up for the
    second, falls on both alike), and the medians are reported."""
    if not (a.plain and hasattr(splits.train, "images")):  # (the plain loop holds CIFAR-style arrays)
        return project_train(cfg, splits, dev, a)
    rounds = []
    for r in range(a.repeats):  # odd rounds: the plain loop first
        plain = plain_train(cfg, splits, dev, a) if r % 2 else None
        project = project_train(copy.deepcopy(cfg), splits, dev, a)
        rounds.append((project, plain or plain_train(cfg, splits, dev, a)))
    out = rounds[0][0]
    out["project_img_s"] = statistics.median(p["project_img_s"] for p, _ in rounds)
    out["plain_img_s"] = statistics.median(q["plain_img_s"] for _, q in rounds)
    out["vs_plain"] = out["project_img_s"] / out["plain_img_s"]
    out["rounds_vs_plain"] = " ".join(f"{p['project_img_s']:.1f}/{q['plain_img_s']:.1f}" for p, q in rounds)
    return out


def compiled(a, mode: str) -> list[str]:
    """The trainer's compile overrides for a --compile mode ("none": eager)."""
    if mode == "none":
        return ["trainer.compile=false"]
    return [
        "trainer.compile=true",
        f"trainer.compile_mode={mode}",
        f"trainer.compile_backend={a.compile_backend}",
    ]


def project_cfg(overrides: list[str]) -> DictConfig:
    return compose(["trainer.progress=false", *overrides])
