"""One trainer for every model and dataset: `train_one_epoch`, `evaluate`, `train(cfg)`.

The loop keeps everything on the device between log points (no per-step host sync): losses and errors
are summed in device tensors, a non-finite loss is remembered by step and raised at the next sync.
A checkpoint after every epoch (and every `checkpoint_every_steps`) holds all the state, RNGs included,
so rerunning the same command in the same run directory resumes and ends with the same result.
"""

from __future__ import annotations

import datetime
import logging
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn
from tqdm import tqdm

from . import distributed, faults, runio
from .config import choice, identity, validate
from .dashboard import Dashboard
from .data import load_splits, make_loaders
from .errors import ConfigError, Preempted, TrainingError
from .evaluate import evaluate, evaluate_ten_patch
from .models import build_variant, label, variant_of
from .optim import make_optimizer, make_scheduler
from .results import EpochRecord, Result, read_result, write_result
from .runtime import (
    EpochSums,
    Runtime,
    in_multirun,
    rng_state,
    select_device,
    set_rng_state,
    setup_backends,
    synced_time,
)

log = logging.getLogger("crelu_repro")


def train_one_epoch(model, loader, optimizer, scheduler, epoch, cfg, rt, sums, start_step=0) -> int:
    """Train from `start_step` until the epoch ends or a pause is due; return the next step to run."""
    t = cfg.trainer
    steps = loader.steps_per_epoch(t.batch_size)
    model.train()
    bar = tqdm(total=steps, initial=start_step, desc=f"epoch {epoch + 1}/{t.epochs}", disable=not rt.progress)
    tick, tick_step = time.perf_counter(), start_step
    batches = loader.train_epoch(t.batch_size, cfg.seed, epoch, rt.dist.rank, rt.dist.world, start_step)
    step = start_step
    for step, (x, y) in enumerate(batches, start=start_step):  # x: (B, 3, H, W), y: (B,)
        with rt.autocast():
            logits = model(x)  # (B, classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=t.label_smoothing)
        if faults.poison(epoch * steps + step + 1):
            loss = loss * float("nan")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        sums.loss += loss.detach() * y.numel()
        sums.errors += (logits.detach().argmax(1) != y).sum()
        sums.seen += y.numel()
        bad = ~torch.isfinite(loss.detach()) & (sums.first_bad_step < 0)
        sums.first_bad_step = torch.where(bad, step, sums.first_bad_step)
        done = step + 1
        faults.at_step(epoch * steps + done)
        if done % t.log_every == 0 or done == steps:
            _raise_if_diverged(sums, epoch)  # one sync per log_every steps: stop soon after a NaN
        if rt.progress and (done % t.log_every == 0 or done == steps):  # the bar's figures: more syncs
            now = time.perf_counter()
            rate = (done - tick_step) * t.batch_size / max(now - tick, 1e-9)
            bar.set_postfix(
                loss=f"{sums.loss.item() / sums.seen.item():.3f}",
                err=f"{100 * sums.errors.item() / sums.seen.item():.1f}%",
                img_s=f"{rate:,.0f}",
            )
            tick, tick_step = now, done
        bar.update(1)
        periodic = t.checkpoint_every_steps and done % t.checkpoint_every_steps == 0
        if done < steps and (periodic or _stop_agreed(rt, done, t.log_every)):
            _raise_if_diverged(sums, epoch)  # never checkpoint a diverged state
            bar.close()
            return done
    bar.close()
    _raise_if_diverged(sums, epoch)
    return steps if steps else step


def _stop_agreed(rt: Runtime, done: int, log_every: int) -> bool:
    """Whether to stop for SIGTERM now. Alone: at once. Under DDP the ranks must stop at the same step, so
    they agree (one tiny all-reduce) at log points only, where the loop syncs anyway."""
    if not rt.dist.enabled:
        return rt.stop_requested[0]
    if done % log_every:
        return False
    flag = torch.tensor([float(rt.stop_requested[0])], device=rt.device)
    rt.stop_requested[0] = bool(distributed.all_reduce_max(flag, rt.dist).item())
    return rt.stop_requested[0]


def _raise_if_diverged(sums: EpochSums, epoch: int) -> None:
    bad = int(sums.first_bad_step.item())
    if bad >= 0:
        raise TrainingError(
            f"the loss became NaN/inf at epoch {epoch + 1}, step {bad + 1}. Stopped; the last good "
            "checkpoint is kept (a rerun resumes from it). Lower optim.lr or check the data."
        )


def train(cfg: DictConfig) -> dict:
    """Train `cfg.model` on `cfg.dataset` into `cfg.out_dir`; returns result.json's contents."""
    device = select_device(cfg)
    ctx = distributed.init(device.type)
    try:
        validate(cfg, ctx.world)
        if device.type == "cuda":
            device = torch.device("cuda", ctx.local_rank)
        return _train(cfg, device, ctx)
    finally:
        distributed.shutdown(ctx)


def _train(cfg: DictConfig, device: torch.device, ctx: distributed.Dist) -> dict:
    start_wall = time.time()
    run_dir = Path(distributed.broadcast_object(str(Path(cfg.out_dir).resolve()), ctx))
    ident = identity(cfg)
    done = read_result(run_dir)
    if done is not None:
        runio.check_same_config(run_dir, done.identity, ident, "finished result")
        log.info("%s is already complete (test error %.2f%%); nothing to do", run_dir, done.test_error)
        return {**done.to_json(), "skipped": True}
    ckpt = runio.load_checkpoint(run_dir)
    if ckpt is not None:
        runio.check_same_config(run_dir, ckpt["identity"], ident, "checkpoint")

    setup_backends(cfg, device)
    splits = load_splits(cfg.dataset, cfg.eval)
    for warning in splits.warnings:
        log.warning("dataset: %s", warning)
    amp = device.type == "cuda" and cfg.trainer.bf16
    channels_last = device.type == "cuda" and cfg.trainer.channels_last
    dtype = torch.bfloat16 if amp else torch.float32
    loaders = make_loaders(splits, cfg.dataset, device, dtype, channels_last, cfg.eval.train_error_images)
    train_data, val_data, test_data = loaders.train, loaders.val, loaders.test
    steps = train_data.steps_per_epoch(cfg.trainer.batch_size)
    if steps == 0:
        raise ConfigError(
            f"trainer.batch_size={cfg.trainer.batch_size} exceeds the {len(train_data)} training images"
        )

    raw = build_variant(cfg.model, splits.num_classes)
    if ctx.enabled and cfg.trainer.sync_bn:
        if device.type != "cuda":
            raise ConfigError("trainer.sync_bn=true needs CUDA (SyncBatchNorm has no CPU kernel)")
        raw = nn.SyncBatchNorm.convert_sync_batchnorm(raw)
    raw = raw.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    params = sum(p.numel() for p in raw.parameters())
    optimizer = make_optimizer(raw, cfg.optim)
    scheduler = make_scheduler(optimizer, cfg.sched, cfg.trainer.epochs, steps)
    epoch, step, history, wall_before, final_scores = 0, 0, [], 0.0, None
    sums = EpochSums.zeros(device)
    if ckpt is not None:
        raw.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        epoch, step, history, wall_before = ckpt["epoch"], ckpt["step"], ckpt["history"], ckpt["wall_s"]
        sums = EpochSums(*(s.to(device) for s in ckpt["sums"]))
        if not ctx.is_main:  # the checkpoint holds the sums of all ranks: count them once
            sums = EpochSums(*(s * 0 for s in (sums.loss, sums.errors, sums.seen)), sums.first_bad_step)
        set_rng_state(ckpt["rng"], device)
        log.info("resuming %s at epoch %d, step %d", run_dir, epoch + 1, step)
    model = nn.parallel.DistributedDataParallel(raw) if ctx.enabled else raw
    if cfg.trainer.compile:
        model = torch.compile(model, mode=cfg.trainer.compile_mode)

    quiet = not sys.stdout.isatty() or in_multirun() or not ctx.is_main
    rt = Runtime(device, ctx, amp, cfg.trainer.progress and not quiet)
    board = Dashboard(run_dir, ctx.is_main, resume_step=epoch + 1 if ckpt is not None else 0)

    def save(next_epoch: int, next_step: int) -> None:
        # Every rank's running sums, summed (rank 0 resumes with the totals, the others with zeros).
        totals = distributed.all_reduce_sum(torch.stack([sums.loss, sums.errors, sums.seen]), ctx)
        worst = distributed.all_reduce_max(sums.first_bad_step.clone(), ctx)
        if ctx.is_main:
            runio.save_checkpoint(
                run_dir,
                {
                    "model": raw.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": next_epoch,
                    "step": next_step,
                    "sums": [*totals, worst],
                    "history": history,
                    "rng": rng_state(device),
                    "wall_s": wall_before + time.time() - start_wall,
                    "identity": ident,
                },
            )
        distributed.barrier(ctx)
        faults.after_checkpoint()

    previous = signal.signal(signal.SIGTERM, lambda *_: rt.stop_requested.__setitem__(0, True))
    log.info(
        "training %s on %s (%d train / %s val / %d test images) on %s x%d -> %s",
        cfg.model.name,
        cfg.dataset.name,
        len(train_data),
        len(val_data) if val_data else 0,
        len(test_data),
        device,
        ctx.world,
        run_dir,
    )
    try:
        while epoch < cfg.trainer.epochs:
            t0 = synced_time(device)
            step = train_one_epoch(model, train_data, optimizer, scheduler, epoch, cfg, rt, sums, step)
            if step < steps:  # paused mid-epoch: periodic checkpoint or preemption
                save(epoch, step)
                if rt.stop_requested[0]:
                    raise Preempted(
                        f"SIGTERM: checkpointed {run_dir} at epoch {epoch + 1}, step {step}. "
                        "Rerun the same command (same hydra.run.dir) to resume."
                    )
                continue
            epoch_s = synced_time(device) - t0
            totals = distributed.all_reduce_sum(torch.stack([sums.loss, sums.errors, sums.seen]), ctx)
            record = {
                "epoch": epoch + 1,
                "train_loss": (totals[0] / totals[2]).item(),
                "train_error_running": 100 * (totals[1] / totals[2]).item(),
                "lr": optimizer.param_groups[0]["lr"],
                "epoch_s": epoch_s,
                "images_per_s": steps * cfg.trainer.batch_size / epoch_s,
            }
            last = epoch + 1 == cfg.trainer.epochs
            if (epoch + 1) % cfg.trainer.eval_every == 0 or last:
                bs = cfg.trainer.eval_batch_size
                record["val_error"] = evaluate(model, val_data, bs, rt)[0] if val_data else None
                record["test_error"], scores, labels = evaluate(model, test_data, bs, rt)
                final_scores = (scores, labels) if last else None
            history.append(record)
            board.scalars(
                {
                    "train/loss": record["train_loss"],
                    "train/error_running": record["train_error_running"],
                    "val/error": record.get("val_error"),
                    "test/error": record.get("test_error"),
                    "lr": record["lr"],
                    "throughput/images_per_s": record["images_per_s"],
                },
                epoch + 1,
            )
            log.info(
                "epoch %d/%d  loss %.4f  train err %.2f%%  test err %s  %.0f img/s",
                epoch + 1,
                cfg.trainer.epochs,
                record["train_loss"],
                record["train_error_running"],
                f"{record['test_error']:.2f}%" if "test_error" in record else "-",
                record["images_per_s"],
            )
            epoch, step, sums = epoch + 1, 0, EpochSums.zeros(device)
            save(epoch, 0)
    finally:
        signal.signal(signal.SIGTERM, previous)

    imagenet = {}
    if cfg.dataset.name == "imagenet":  # single center crop and 10-patch, top-1 and top-5, in one pass
        imagenet, *final_scores = evaluate_ten_patch(model, test_data, cfg.trainer.eval_batch_size, rt)
        history[-1]["test_error"] = imagenet["test_error"]
    elif final_scores is None:  # resumed after the last epoch's checkpoint: evaluate again
        history[-1]["test_error"], *final_scores = evaluate(model, test_data, cfg.trainer.eval_batch_size, rt)
    if val_data and history[-1].get("val_error") is None:
        history[-1]["val_error"] = evaluate(model, val_data, cfg.trainer.eval_batch_size, rt)[0]
    test_error, val_error = history[-1]["test_error"], history[-1].get("val_error")
    train_error = evaluate(model, loaders.train_eval, cfg.trainer.eval_batch_size, rt)[0]  # a clean pass
    steady = history[1:] or history  # the first epoch pays for compilation and warm-up
    result = Result(
        **{
            "model": label(variant_of(cfg.model)),
            "dataset": cfg.dataset.name,
            "protocol": choice(cfg.eval.protocol),
            "seed": cfg.seed,
            "fold": cfg.eval.fold if choice(cfg.eval.protocol) == "kfold" else None,
            "epochs": cfg.trainer.epochs,
            "params": params,
            "train_error": train_error,
            "val_error": val_error,
            "test_error": test_error,
            **imagenet,
            "unreadable_files": loaders.unreadable(),
            "wall_s": wall_before + time.time() - start_wall,
            "images_per_s": float(np.mean([h["images_per_s"] for h in steady])),
            "num_train": len(train_data),
            "num_val": len(val_data) if val_data else 0,
            "num_test": len(test_data),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "world_size": ctx.world,
            "torch": torch.__version__,
            "code_version": runio.code_version(),
            "dataset_warnings": splits.warnings,
            "history": [EpochRecord(**h) for h in history],
            "finished": datetime.datetime.now().isoformat(timespec="seconds"),
            "identity": ident,
            "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        }
    )
    if ctx.is_main:
        scores, labels = final_scores
        runio.write_npy(run_dir / runio.SCORES, scores.numpy().astype(np.float16))
        runio.write_npy(run_dir / runio.LABELS, labels.numpy().astype(np.int64))
        write_result(run_dir, result)  # last: its presence means "complete"
        board.hparams(
            {
                "model": label(variant_of(cfg.model)),
                "dataset": cfg.dataset.name,
                "seed": cfg.seed,
                "lr": cfg.optim.lr,
                "batch_size": cfg.trainer.batch_size,
                "epochs": cfg.trainer.epochs,
            },
            {"test_error": test_error, "train_error": train_error, "val_error": val_error},
            step=cfg.trainer.epochs,
        )
    board.close()
    log.info("done: test error %.2f%%, train error %.2f%% -> %s", test_error, train_error, run_dir)
    return result.to_json()
