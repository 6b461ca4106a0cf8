"""One trainer for every model and dataset. `train(cfg)` is a pipeline; each stage lives in one place:

    validate        config.py    every value in range, before anything is read
    session         runtime.py   device, torchrun group, SIGTERM / SIGINT -> a stop flag
    RunDir          run_dir.py   one owner (lock), skip when complete, checkpoint, outputs, TensorBoard
    build           build.py     loaders, model, optimizer, scheduler, runtime
    TrainState      here         fresh, or from the checkpoint
    fit             here         the epoch loop (`train_one_epoch`): pauses, saves, preemption
    final_metrics   here         the dataset's test metrics, val, a clean train-error pass
    make_result     results.py   result.json, written last

The loop keeps everything on the device between log points (no per-step host sync): losses and errors
are summed in device tensors, a non-finite loss is remembered by step and raised at the next sync.
A checkpoint after every epoch (and every `checkpoint_every_steps`) holds all the state, RNGs included,
so rerunning the same command in the same run directory resumes and ends with the same result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from tqdm import tqdm

from . import distributed, faults, runio
from .build import Built, build
from .config import validate
from .datasets import get_dataset
from .errors import Preempted, TrainingError
from .eta import RunClock, RunShape, announce, clock_text
from .evaluate import top1_error
from .models import label, layout, variant_of
from .optim import load_optimizer_state
from .results import EpochRecord, make_result
from .run_dir import RunDir
from .runtime import STOP, check_environment, rng_state, session, set_rng_state, synced_time

log = logging.getLogger("crelu_repro")


def train(cfg: DictConfig) -> dict:
    """Train `cfg.model` on `cfg.dataset` into `cfg.out_dir`; returns result.json's contents."""
    validate(cfg, check_environment().world)
    with session(cfg) as (device, ctx), RunDir(cfg, ctx) as run:
        if run.finished is not None:
            return {**run.finished.to_json(), "skipped": True}
        built = build(cfg, device, ctx)
        run.check_data(built.splits.fingerprint, built.steps_per_epoch)
        state = TrainState.start(built, run.checkpoint)
        try:
            fit(cfg, built, state, run)
        except TrainingError as err:  # say what is kept: the last checkpoint, or none yet
            raise run.diverged(err) from None
        metrics, scores, labels = final_metrics(cfg, built)
        result = make_result(cfg, built, state, metrics)
        run.finish(result, scores, labels)
        log.info(
            "done: test error %.2f%%, train error %.2f%% -> %s",
            result.test_error,
            result.train_error,
            run.path,
        )
        if built.rt.stop_agreed(settle=True):  # a signal in the final evaluation: the result is written
            raise preempted(f"{run.path} is complete (its result is written); stopping")
        return result.to_json()


@dataclass
class EpochSums:
    """Running sums of the current epoch, as device tensors: adding to them costs no host sync.

    A step only records its loss and its error count (3 small kernels: argmax, compare, sum); the sums, the
    sample count and the first non-finite step are folded in by `flush`, once per log point, pause or
    epoch end (about 15 tiny kernels per step otherwise: the floor of a CUDA-graphed step at batch 128).
    `totals` flushes; call `flush` before reading a field directly."""

    loss: torch.Tensor
    errors: torch.Tensor
    seen: torch.Tensor
    first_bad_step: torch.Tensor  # -1 while every loss is finite
    pending_loss: list[torch.Tensor] = field(default_factory=list)  # the unflushed steps' losses, ()
    pending_errors: list[torch.Tensor] = field(default_factory=list)  # and their error counts, ()
    pending_from: int = 0  # the step of the first pending entry; the pending steps are consecutive
    pending_size: int = 0  # images per pending step

    @classmethod
    def zeros(cls, device: torch.device) -> EpochSums:
        z = torch.zeros((), dtype=torch.float64, device=device)
        return cls(z.clone(), z.clone(), z.clone(), torch.full((), -1, dtype=torch.long, device=device))

    def record(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, step: int) -> None:
        """One step's mean loss () and its errors on logits (B, classes) vs labels y (B,)."""
        if self.pending_loss and (
            y.numel() != self.pending_size or step != self.pending_from + len(self.pending_loss)
        ):
            self.flush()
        if not self.pending_loss:
            self.pending_from, self.pending_size = step, y.numel()
        self.pending_loss.append(loss.detach())
        self.pending_errors.append((logits.detach().argmax(1) != y).sum())

    def flush(self) -> None:
        """Fold the pending steps into the sums (a few kernels, no host sync)."""
        if not self.pending_loss:
            return
        losses = torch.stack(self.pending_loss)  # (k,) float32
        # float64 products of float32 losses and a batch size are exact, and so are their sums at these
        # magnitudes: the totals do not depend on where the flushes fall (a resumed run matches).
        self.loss += (losses.double() * self.pending_size).sum()
        self.errors += torch.stack(self.pending_errors).sum()
        self.seen += len(self.pending_loss) * self.pending_size
        bad = ~torch.isfinite(losses)  # (k,)
        first = torch.where(bad.any(), bad.int().argmax() + self.pending_from, -1)  # argmax: first True
        self.first_bad_step = torch.where(self.first_bad_step >= 0, self.first_bad_step, first)
        self.pending_loss, self.pending_errors = [], []

    def totals(self, ctx: distributed.Dist) -> torch.Tensor:
        """(loss, errors, seen) summed over the ranks."""
        self.flush()
        return distributed.all_reduce_sum(torch.stack([self.loss, self.errors, self.seen]), ctx)


@dataclass
class TrainState:
    """Where training is: the next epoch and step, the history so far, the epoch's running sums and the
    wall time of earlier sessions. New state is added here, in `state_dict` and `load_state_dict`."""

    sums: EpochSums
    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    wall_before: float = 0.0  # seconds spent before this session (resumes)
    started: float = field(default_factory=time.time)
    resumed: bool = False

    @property
    def wall_s(self) -> float:
        return self.wall_before + time.time() - self.started

    def state_dict(self, ctx: distributed.Dist) -> dict:
        """Collective: the ranks' running sums are totalled (rank 0 resumes with them, the others with 0)."""
        totals = self.sums.totals(ctx)
        worst = distributed.all_reduce_max(self.sums.first_bad_step.clone(), ctx)
        sums = [*totals, worst]
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "sums": sums,
            "wall_s": self.wall_s,
        }

    def load_state_dict(self, state: dict, device: torch.device, is_main: bool) -> None:
        self.epoch, self.step, self.history = state["epoch"], state["step"], list(state["history"])
        loss, errors, seen, bad = (s.to(device) for s in state["sums"])
        keep = 1 if is_main else 0  # the checkpoint holds all ranks' sums: count them once
        self.sums = EpochSums(loss * keep, errors * keep, seen * keep, bad)
        self.wall_before, self.started, self.resumed = state["wall_s"], time.time(), True

    @classmethod
    def start(cls, built: Built, ckpt: dict | None) -> TrainState:
        """A fresh state, or the checkpoint's with the network, optimizer, scheduler and RNGs restored."""
        state = cls(EpochSums.zeros(built.rt.device))
        if ckpt is None:
            return state
        built.raw.load_state_dict(ckpt["model"])
        load_optimizer_state(built.optimizer, ckpt["optimizer"])
        built.scheduler.load_state_dict(ckpt["scheduler"])
        state.load_state_dict(ckpt["state"], built.rt.device, built.rt.dist.is_main)
        set_rng_state(ckpt["rng"], built.rt.device)
        log.info("resuming at epoch %d, step %d", state.epoch + 1, state.step)
        return state


def checkpoint(built: Built, state: TrainState, run: RunDir) -> dict:
    """Everything a resume needs (collective: see TrainState.state_dict)."""
    return {
        "format": runio.FORMAT,
        "model": built.raw.state_dict(),
        "optimizer": built.optimizer.state_dict(),
        "scheduler": built.scheduler.state_dict(),
        "state": state.state_dict(built.rt.dist),
        "rng": rng_state(built.rt.device),
        "identity": run.identity,
        "data": built.splits.fingerprint,
        "network": layout(built.raw),  # checked before a resume: a code change can change the network
    }


def fit(cfg: DictConfig, built: Built, state: TrainState, run: RunDir) -> None:
    """Train until `trainer.epochs`; checkpoint after each epoch and pause; on a stop, raise Preempted."""
    rt, t, model = built.rt, cfg.trainer, label(variant_of(cfg.model))
    log.info(
        "training %s on %s (%d train / %d val / %d test images) on %s x%d -> %s", model,
        cfg.dataset.name, len(built.loaders.train), len(built.loaders.val or ()), len(built.loaders.test),
        rt.device, rt.dist.world, run.path,
    )  # fmt: skip
    if rt.stop_agreed(settle=True):  # a signal while the data was read: nothing trained; leave a checkpoint
        run.save_checkpoint(checkpoint(built, state, run))
    clock = RunClock(RunShape.of(cfg, built), lambda: synced_time(rt.device))  # the run's ETA
    while state.epoch < t.epochs and not rt.stopping:
        t0 = synced_time(rt.device)
        state.step = train_one_epoch(
            built.model, built.loaders.train, built.optimizer, built.scheduler, rt, state, cfg, clock
        )
        if state.step >= built.steps_per_epoch:  # else a pause: periodic checkpoint or an agreed stop
            end_epoch(cfg, built, state, run, synced_time(rt.device) - t0)
        run.save_checkpoint(checkpoint(built, state, run))
    if rt.stopping:
        raise preempted(f"checkpointed {run.path} at epoch {state.epoch + 1}, step {state.step}")


def preempted(what: str) -> Preempted:
    return Preempted(
        f"{STOP.signal or 'a stop signal on another rank'}: {what}. Rerun the same command (same "
        "hydra.run.dir) to resume; a finished run is skipped."
    )


def train_one_epoch(
    model, loader, optimizer, scheduler, rt, state: TrainState, cfg: DictConfig, clock: RunClock | None = None
) -> int:
    """Train epoch `state.epoch` from step `state.step` until it ends, a periodic pause is due or the ranks
    agree to stop; return the number of steps done (the next step to run). `clock` times the steps for the
    run's ETA (logged once, and the bar's time left)."""
    t, sums = cfg.trainer, state.sums
    steps = loader.steps_per_epoch(t.batch_size)
    model.train()
    bar = progress_bar(state, steps, t.epochs, rt.progress)
    tick, tick_step, done = time.perf_counter(), state.step, state.step
    batches = loader.train_epoch(t.batch_size, cfg.seed, state.epoch, rt.dist.rank, rt.dist.world, state.step)
    for step, (x, y) in enumerate(batches, start=state.step):  # x: (B, 3, H, W), y: (B,)
        with rt.autocast():
            logits = model(x)  # (B, classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=t.label_smoothing)
        if faults.poison(state.epoch * steps + step + 1):
            loss = loss * float("nan")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        sums.record(loss, logits, y, step)
        done = step + 1
        faults.at_step(state.epoch * steps + done)
        pause = t.checkpoint_every_steps and done % t.checkpoint_every_steps == 0 and done < steps
        if clock is not None and clock.after_step(done == steps or bool(pause)) and rt.dist.is_main:
            log_eta(clock, state.epoch * steps + done, rt.device.type)  # (no evaluation or save timed)
        if done % t.log_every == 0 or done == steps:
            sums.flush()
            _raise_if_diverged(sums, state.epoch)  # one sync per log_every steps: stop soon after a NaN
            if rt.progress:  # the bar's figures cost more syncs: only when someone watches
                now = time.perf_counter()
                bar.set_postfix(
                    run_left=clock_text(clock.left_s(state.epoch * steps + done) if clock else None),
                    loss=f"{sums.loss.item() / sums.seen.item():.3f}",
                    err=f"{100 * sums.errors.item() / sums.seen.item():.1f}%",
                    img_s=f"{(done - tick_step) * t.batch_size / max(now - tick, 1e-9):,.0f}",
                )
                tick, tick_step = now, done
        bar.update(1)
        if rt.stop_agreed() or pause:  # every step: a stop is honoured within one step, on every rank
            break
    stopping = rt.stopping
    rt.stop_agreed(settle=True)  # nothing left in flight at a pause; a signal in the last step counts now
    rt.stopping |= stopping
    bar.close()
    sums.flush()
    _raise_if_diverged(sums, state.epoch)  # never checkpoint a diverged state
    return done


BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}, {postfix}]"  # no tqdm ETA: ours


def progress_bar(state: TrainState, steps: int, epochs: int, enabled: bool) -> tqdm:
    """The bar over the whole run's steps; its time left is the run's (RunClock: training and evaluation
    to the end, in the postfix), not tqdm's rate over this epoch's steps."""
    done, desc = state.epoch * steps + state.step, f"epoch {state.epoch + 1}/{epochs}"
    return tqdm(
        total=epochs * steps,
        initial=done,
        desc=desc,
        disable=not enabled,
        postfix={"run_left": "?"},
        bar_format=BAR,
    )


def log_eta(clock: RunClock, done_steps: int, device: str) -> None:
    line, warning = announce(clock.shape, clock.step_s, done_steps, device)
    log.info(line)
    if warning:
        log.warning(warning)


def _raise_if_diverged(sums: EpochSums, epoch: int) -> None:
    bad = int(sums.first_bad_step.item())
    if bad >= 0:
        raise TrainingError(f"the loss became NaN/inf at epoch {epoch + 1}, step {bad + 1}. Stopped")


def end_epoch(cfg: DictConfig, built: Built, state: TrainState, run: RunDir, epoch_s: float) -> None:
    """The epoch's record (errors on the augmented batches, val/test when due), logged; next epoch."""
    t, rt = cfg.trainer, built.rt
    loss, errors, seen = state.sums.totals(rt.dist)
    record = EpochRecord(
        epoch=state.epoch + 1, train_loss=(loss / seen).item(),
        train_error_running=100 * (errors / seen).item(),
        lr=built.optimizer.param_groups[0]["lr"], epoch_s=epoch_s,
        images_per_s=built.steps_per_epoch * t.batch_size / epoch_s,
    )  # fmt: skip
    if (state.epoch + 1) % t.eval_every == 0 or state.epoch + 1 == t.epochs:
        bs = t.eval_batch_size
        record.val_error = top1_error(built.model, built.loaders.val, bs, rt) if built.loaders.val else None
        record.test_error = top1_error(built.model, built.loaders.test, bs, rt)
    state.history.append(asdict(record))
    run.log_epoch(record, t.epochs)
    state.epoch, state.step, state.sums = state.epoch + 1, 0, EpochSums.zeros(rt.device)


def final_metrics(cfg: DictConfig, built: Built) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """The dataset's test metrics (ImageNet: single crop and 10-patch, top-1 and top-5), the val error and a
    clean pass over the training images (eval mode, no augmentation); the test scores and labels."""
    bs, rt, loaders = cfg.trainer.eval_batch_size, built.rt, built.loaders
    metrics, scores, labels = get_dataset(cfg.dataset.name).test_metrics(built.model, loaders.test, bs, rt)
    metrics["val_error"] = top1_error(built.model, loaders.val, bs, rt) if loaders.val else None
    metrics["train_error"] = top1_error(built.model, loaders.train_eval, bs, rt)
    return metrics, scores, labels
