"""One trainer for every model and dataset. `train(cfg)` is a pipeline; each stage lives in one place:

    validate        run/checks.py     every value in range, the model's Variant, the data there: once,
                                      before anything is read or any folder made
    session         session.py        device, torchrun group, SIGTERM / SIGINT -> a stop flag
    RunDir          run_dir.py        one owner (lock), skip when complete, outputs, TensorBoard
    build           build.py          loaders, model, optimizer, scheduler, runtime
    TrainState      state.py          fresh, or the checkpoint's (checkpoint.py: save, resume)
    fit             here              the epoch loop (`train_one_epoch`): pauses, saves, preemption
    final_metrics   here              the dataset's test metrics, val, a clean train-error pass
    make_result     here              the Result (core/results.py declares it), written last

The loop keeps everything on the device between log points (no per-step host sync): losses and errors
are summed in device tensors, a non-finite loss is remembered by step and raised at the next sync.
A checkpoint after every epoch (and every `checkpoint_every_steps`) holds all the state, RNGs included,
so rerunning the same command in the same run directory resumes and ends with the same result.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import asdict

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from ..core import faults
from ..core.errors import Preempted, TrainingError
from ..core.results import EpochRecord, Result
from ..core.schema import choice
from ..data import get_dataset
from ..data.evaluate import top1_error
from ..models import label
from ..run.checks import check_data, check_environment, validate
from ..run.identity import code_version
from .build import Built, build
from .checkpoint import diverged, resume, save
from .eta import RunClock, RunShape, announce, clock_text
from .run_dir import RunDir
from .session import STOP, session, synced_time
from .state import EpochSums, TrainState

log = logging.getLogger("crelu_repro")


def train(cfg: DictConfig) -> dict:
    """Train `cfg.model` on `cfg.dataset` into `cfg.out_dir`; returns result.json's contents."""
    variant = validate(cfg, check_environment().world)  # (once a process: train.py's Hydra hook did it)
    check_data(cfg, cfg.out_dir)
    with session(cfg) as (device, ctx), RunDir(cfg, ctx, variant) as run:
        if run.finished is not None:
            return {**run.finished.to_json(), "skipped": True}
        built = build(cfg, device, ctx, variant=variant)
        state = (
            TrainState.fresh(device) if run.checkpoint is None else resume(run.checkpoint, built, run.path)
        )
        try:
            fit(cfg, built, state, run)
        except TrainingError as err:  # say what is kept: the last checkpoint, or none yet
            raise diverged(err, state) from None
        metrics, scores, labels = final_metrics(cfg, built)
        result = make_result(cfg, built, state, metrics, run)
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


def fit(cfg: DictConfig, built: Built, state: TrainState, run: RunDir) -> None:
    """Train until `trainer.epochs`; checkpoint after each epoch and pause; on a stop, raise Preempted."""
    rt, t, model = built.rt, cfg.trainer, label(run.variant)
    log.info(
        "training %s on %s (%d train / %d val / %d test images) on %s x%d (%s%s) -> %s", model,
        cfg.dataset.name, len(built.loaders.train), len(built.loaders.val or ()), len(built.loaders.test),
        rt.device, rt.dist.world, "bf16 autocast" if rt.amp else "fp32",
        ", channels_last" if rt.channels_last else "", run.path,
    )  # fmt: skip
    if rt.stop_agreed(settle=True):  # a signal while the data was read: nothing trained; leave a checkpoint
        save(run.path, built, state, run.identity)
    clock = RunClock(RunShape.of(cfg, built), lambda: synced_time(rt.device))  # the run's ETA
    while state.epoch < t.epochs and not rt.stopping:
        t0 = synced_time(rt.device)
        state.step = train_one_epoch(
            built.model, built.loaders.train, built.optimizer, built.scheduler, rt, state, cfg, clock
        )
        if state.step >= built.steps_per_epoch:  # else a pause: periodic checkpoint or an agreed stop
            end_epoch(cfg, built, state, run, synced_time(rt.device) - t0)
        save(run.path, built, state, run.identity)
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


def make_result(
    cfg: DictConfig, built: Built, state: TrainState, metrics: dict[str, float], run: RunDir
) -> Result:
    """The one builder of a Result (core/results.py declares it): `cfg` the resolved config, `built` the
    run's Built (build.py), `state` its TrainState (state.py), `metrics` the final errors (final_metrics),
    `run` its RunDir (the model's Variant and the run's identity)."""
    rt, loaders = built.rt, built.loaders
    steady = state.history[1:] or state.history  # the first epoch pays for compilation and warm-up
    kfold = choice(cfg.eval.protocol) == "kfold"
    return Result(
        model=label(run.variant), dataset=cfg.dataset.name, protocol=choice(cfg.eval.protocol),
        seed=cfg.seed, fold=cfg.eval.fold if kfold else None, epochs=cfg.trainer.epochs, params=built.params,
        **metrics,
        num_train=len(loaders.train), num_val=len(loaders.val or ()), num_test=len(loaders.test),
        unreadable_files=loaders.unreadable(), dataset_warnings=built.splits.warnings,
        data_fingerprint=built.splits.fingerprint,
        history=[EpochRecord(**h) for h in state.history],
        wall_s=state.wall_s, images_per_s=sum(h["images_per_s"] for h in steady) / max(1, len(steady)),
        device=torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else "cpu",
        world_size=rt.dist.world, torch=torch.__version__, code_version=code_version(),
        finished=datetime.datetime.now().isoformat(timespec="seconds"), identity=run.identity,
        config=OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
    )  # fmt: skip
