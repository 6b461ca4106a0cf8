"""A run directory and its one owner: skip when complete, the lock, the checkpoint, the outputs.

Only one process trains into a directory: rank 0 holds an OS lock (`flock` on `.lock`) for the whole run,
which the kernel releases when the process ends however it ends (SIGKILL included), so a crashed owner never
blocks a rerun. A second process is refused at once, naming the owner's PID; in a sweep that run is reported
busy and skipped. A finished run (result.json) is never touched again, so skipping it writes nothing: it
works on a read-only copy too. Everything written here goes through `runio`'s atomic writes, and only under
the fixed names of OWN_NAMES: a symbolic link in the place of any of them is refused before anything is
read or written (the lock and the log are also opened with O_NOFOLLOW), so nothing outside is touched.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from . import checkpoint, distributed, faults, provenance, runio
from .cli_paths import output_dir
from .dashboard import FINAL_METRICS, HPARAMS, TB, Dashboard
from .errors import ConfigError, CreluError, Preempted, RunDirBusy, StorageError, TrainingError
from .identity import canonical_identity, identity
from .models import expected_layout, layout_changes, variant_of
from .results import RESULT, EpochRecord, Result, read_result, write_result

log = logging.getLogger("crelu_repro")
LOCK = ".lock"
LOG = "train.log"
HYDRA = ".hydra"
# Every name a run writes (or reads back) in its directory; README "Outputs" lists them.
OWN_NAMES = (LOCK, LOG, HYDRA, TB, checkpoint.CHECKPOINT, runio.SCORES, runio.LABELS, RESULT)
OWN_FOLDERS = (HYDRA, TB)  # the others are files


class RunDir:
    """Open with `with RunDir(cfg, ctx) as run:`; then `run.finished` (skip), or `run.checkpoint` (resume)."""

    def __init__(self, cfg: DictConfig, ctx: distributed.Dist) -> None:
        self.cfg, self.ctx = cfg, ctx
        self.path = Path(distributed.broadcast_object(str(Path(cfg.out_dir).expanduser().resolve()), ctx))
        self.identity = identity(cfg)
        self.finished: Result | None = None
        self.checkpoint: dict | None = None
        self.board: Dashboard | None = None  # TensorBoard (rank 0 writes)
        self.saved: dict | None = None  # the train state of the last checkpoint on disk
        self._lock_fd: int | None = None
        self._log: logging.Handler | None = None

    def __enter__(self) -> RunDir:
        outcome, error = None, None
        if self.ctx.is_main:
            try:
                outcome = self._claim()
            except CreluError as err:  # the other ranks must stop too, with the same message
                outcome, error = {"error": str(err), "exit_code": err.exit_code}, err
        outcome = distributed.broadcast_object(outcome, self.ctx)
        if outcome.get("error"):
            self.__exit__(None, None, None)
            if error is None:
                error = CreluError(outcome["error"])
                error.exit_code = outcome["exit_code"]
            raise error
        if outcome.get("finished"):
            self.finished = read_result(self.path)
        else:
            self.checkpoint = checkpoint.load_checkpoint(self.path) if outcome.get("resume") else None
            self.saved = self.checkpoint["state"] if self.checkpoint else None
            resume_step = self.checkpoint["state"]["epoch"] + 1 if self.checkpoint else 0
            self.board = Dashboard(self.path, self.ctx.is_main, resume_step)
        return self

    def __exit__(self, exc_type=None, exc=None, tb=None) -> None:
        if self._log is not None and exc is not None:  # what ended the run goes into its log too
            self._log.handle(_error_record(exc_type, exc, tb))
        if self.board is not None:
            self.board.close()
        if self._log is not None:
            logging.getLogger().removeHandler(self._log)
            self._log.close()
            self._log = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _claim(self) -> dict:
        """Rank 0: skip a complete run without writing anything; else take the lock, check the checkpoint."""
        if not self.path.is_dir():  # (an existing one is left as it is: a read-only finished run is skipped)
            output_dir(self.path, "the run directory (hydra.run.dir or out_dir)", writable=False)
        for name in OWN_NAMES:  # before anything is read or written: a planted link is never followed
            runio.refuse_link(self.path / name)
            runio.refuse_other_kind(self.path / name, folder=name in OWN_FOLDERS)
        if self._finished_here():
            return {"finished": True}
        self._lock()
        if self._finished_here():  # the previous owner finished while we waited for nothing: skip
            return {"finished": True}
        ckpt = checkpoint.load_checkpoint(self.path)
        if ckpt is not None:
            stored = canonical_identity(ckpt["identity"])  # (an older version stored more keys)
            provenance.check_same_config(self.path, stored, self.identity, "checkpoint")
            self._check_resumable(ckpt)
        self._record_config()
        return {"resume": ckpt is not None}

    def _finished_here(self) -> bool:
        done = read_result(self.path)
        if done is None:
            return False
        stored = canonical_identity(done.identity)
        provenance.check_same_config(self.path, stored, self.identity, "finished result")
        log.info("%s is already complete (test error %.2f%%); nothing to do", self.path, done.test_error)
        return True

    def _lock(self) -> None:
        try:
            fd = runio.open_nofollow(self.path / LOCK, os.O_RDWR | os.O_CREAT)
        except OSError as err:
            raise StorageError(
                f"cannot train into {self.path}: {err.strerror or err}. Choose a writable hydra.run.dir "
                "(or fix the permissions)."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            owner = os.pread(fd, 200, 0).decode(errors="replace").strip() or "an unknown process"
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise RunDirBusy(
                    f"{self.path} is being trained by {owner}; it has one owner at a time. Wait for it to "
                    "finish (a rerun then skips or resumes it), or use another hydra.run.dir."
                ) from None
            raise StorageError(f"cannot lock {self.path / LOCK}: {err.strerror or err}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd

    def _record_config(self) -> None:
        """The resolved config and the overrides beside the run (Hydra's .hydra/ layout, written by us only
        once the run is ours: Hydra would overwrite another owner's), and this run's log file."""
        hydra_dir = runio.own_dir(self.path / HYDRA)
        runio.write_text(hydra_dir / "config.yaml", OmegaConf.to_yaml(self.cfg))
        overrides = _hydra_overrides()
        if overrides is not None:
            runio.write_text(hydra_dir / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(overrides)))
        self._log = _LogFile(self.path / LOG)
        self._log.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] %(message)s"))
        logging.getLogger().addHandler(self._log)

    def save_checkpoint(self, state: dict) -> None:
        """Rank 0 writes `state` atomically; every rank waits for it (a consistent point to stop at)."""
        if self.ctx.is_main:
            checkpoint.save_checkpoint(self.path, state)
        self.saved = state["state"]
        distributed.barrier(self.ctx)
        faults.after_checkpoint()

    def diverged(self, err: TrainingError) -> TrainingError:
        """`err` (a non-finite loss) completed with what is true of this run's checkpoint."""
        if self.saved is None:
            kept = (
                "no checkpoint was written before it, so a rerun starts afresh. Check the data, or lower "
                "optim.lr"
            )
        else:
            at = f"epoch {self.saved['epoch'] + 1}, step {self.saved['step']}"
            kept = f"the last good checkpoint is kept: a rerun resumes from it (at {at}). Lower optim.lr"
        return TrainingError(f"{err}; {kept}.")

    def _check_resumable(self, ckpt: dict) -> None:
        """Before anything is written: the checkpoint's network is the one this code builds for this config
        (a code change between the run and its resume can change it), and its position is one this config
        reaches. Else one line naming the difference; the checkpoint is left as it is."""
        now = expected_layout(variant_of(self.cfg.model), int(self.cfg.dataset.num_classes))
        changes = layout_changes(ckpt["network"], now)
        if changes:
            raise self._unresumable(
                "a network of another structure than this code builds for the same config (the code changed "
                f"since it was written?): {'; '.join(changes)}"
            )
        state, epochs = ckpt["state"], self.cfg.trainer.epochs
        missing = [k for k in ("epoch", "step", "history", "sums", "wall_s") if k not in state]
        if missing:
            raise self._unresumable(f"a training state without {', '.join(missing)}")
        if not _consistent(state, epochs):
            raise self._unresumable(
                f"an inconsistent position: epoch {state['epoch']}, step {state['step']}, "
                f"{len(state['history'])} epochs of history, for a run of trainer.epochs={epochs}"
            )

    def _unresumable(self, what: str) -> ConfigError:
        return ConfigError(
            f"{self.path / checkpoint.CHECKPOINT} holds {what}. It will not be resumed or overwritten: move "
            "it away to start this run afresh, or resume with the code version that wrote it."
        )

    def check_data(self, fingerprint: dict, steps_per_epoch: int) -> None:
        """Refuse to resume on different data (moving the same files elsewhere is fine: no paths inside),
        or at a step the epoch does not have."""
        saved = (self.checkpoint or {}).get("data")
        if saved is not None and saved != fingerprint:
            raise ConfigError(
                f"{self.path} was trained on different data, so it will not be resumed on this data:\n"
                f"  checkpoint: {saved}\n  now:        {fingerprint}\n"
                f"Point dataset.root at the files it was trained on, or use a new hydra.run.dir."
            )
        step = (self.checkpoint or {}).get("state", {}).get("step", 0)
        if step >= steps_per_epoch:
            raise self._unresumable(f"step {step} of an epoch of {steps_per_epoch} steps")

    def log_epoch(self, record: EpochRecord, epochs: int) -> None:
        self.board.epoch(record)
        test = "-" if record.test_error is None else f"{record.test_error:.2f}%"
        log.info(
            "epoch %d/%d  loss %.4f  train err %.2f%%  test err %s  %.0f img/s", record.epoch, epochs,
            record.train_loss, record.train_error_running, test, record.images_per_s,
        )  # fmt: skip

    def finish(self, result: Result, scores: torch.Tensor, labels: torch.Tensor) -> None:
        """Rank 0 writes the test scores, then result.json last (its presence means "complete"), then the
        hparams summary of TensorBoard."""
        if self.ctx.is_main:
            runio.write_npy(self.path / runio.SCORES, scores.numpy().astype(np.float16))
            runio.write_npy(self.path / runio.LABELS, labels.numpy().astype(np.int64))
            write_result(self.path, result)
        flat = {**result.config["optim"], **result.config["trainer"], **result.to_json()}
        metrics = {k: getattr(result, k) for k in FINAL_METRICS}
        self.board.hparams({k: flat[k] for k in HPARAMS}, metrics, step=result.epochs)


def _consistent(state: dict, epochs: int) -> bool:
    """A position this run reaches: epochs done within trainer.epochs, one history record each, a step
    only inside an unfinished epoch, the four running sums."""
    epoch, step = state["epoch"], state["step"]
    if not (isinstance(epoch, int) and isinstance(step, int) and 0 <= epoch <= epochs and step >= 0):
        return False
    return len(state["history"]) == epoch and (step == 0 or epoch < epochs) and len(state["sums"]) == 4


def _error_record(exc_type, exc, tb) -> logging.LogRecord:
    """The error as one log line (the user's to fix: its message; a bug: its traceback too)."""
    if isinstance(exc, CreluError):  # a stop signal's checkpoint is no error
        level = logging.WARNING if isinstance(exc, Preempted) else logging.ERROR
        return log.makeRecord(log.name, level, __file__, 0, "%s", (exc,), None)
    if isinstance(exc, KeyboardInterrupt):
        return log.makeRecord(log.name, logging.ERROR, __file__, 0, "interrupted (Ctrl-C)", None, None)
    return log.makeRecord(log.name, logging.ERROR, __file__, 0, "failed: %r", (exc,), (exc_type, exc, tb))


class _LogFile(logging.FileHandler):
    """train.log, appended to, opened without following a link in its place."""

    def _open(self):
        fd = runio.open_nofollow(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _hydra_overrides() -> list[str] | None:
    try:
        from hydra.core.hydra_config import HydraConfig
    except ImportError:
        return None
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else None
