"""A run directory and its one owner: skip when complete, the lock, the checkpoint, the outputs.

Only one process trains into a directory: rank 0 holds an OS lock (`flock` on `.lock`) for the whole run,
which the kernel releases when the process ends however it ends (SIGKILL included), so a crashed owner never
blocks a rerun. A second process is refused at once, naming the owner's PID; in a sweep that run is reported
busy and skipped. A finished run (result.json) is never touched again, so skipping it writes nothing: it
works on a read-only copy too. Everything written here goes through core/files.py's atomic writes, and
only under the fixed names of OWN_NAMES: a symbolic link in the place of any of them is refused before
anything is read or written (the lock and the log are also opened with O_NOFOLLOW), so nothing outside is
touched. The checkpoint's checks are checkpoint.py's; this module only calls them when it claims the run.
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

from ..core import distributed, files
from ..core.errors import CreluError, Preempted, RunDirBusy, StorageError
from ..core.files import output_dir
from ..core.results import RESULT, EpochRecord, Result, read_result, write_result
from ..models import Variant
from ..run.identity import canonical_identity, check_same_config, identity
from . import checkpoint
from .dashboard import FINAL_METRICS, HPARAMS, TB, Dashboard

log = logging.getLogger("crelu_repro")
LOCK = ".lock"
LOG = "train.log"
HYDRA = ".hydra"
# Every name a run writes (or reads back) in its directory; docs/outputs.md lists them.
OWN_NAMES = (LOCK, LOG, HYDRA, TB, checkpoint.CHECKPOINT, files.SCORES, files.LABELS, RESULT)
OWN_FOLDERS = (HYDRA, TB)  # the others are files


class RunDir:
    """Open with `with RunDir(cfg, ctx, variant) as run:`; then `run.finished` (skip), or `run.checkpoint`
    (resume: checkpoint.resume). `variant` is the run's model as validation described it."""

    def __init__(self, cfg: DictConfig, ctx: distributed.Dist, variant: Variant) -> None:
        self.cfg, self.ctx, self.variant = cfg, ctx, variant
        self.path = Path(distributed.broadcast_object(str(Path(cfg.out_dir).expanduser().resolve()), ctx))
        self.identity = identity(cfg, variant)
        self.finished: Result | None = None
        self.checkpoint: dict | None = None
        self.board: Dashboard | None = None  # TensorBoard (rank 0 writes)
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
            self.checkpoint = checkpoint.read(self.path) if outcome.get("resume") else None
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
            files.refuse_link(self.path / name)
            files.refuse_other_kind(self.path / name, folder=name in OWN_FOLDERS)
        if self._finished_here():
            return {"finished": True}
        self._lock()
        if self._finished_here():  # the previous owner finished while we waited for nothing: skip
            return {"finished": True}
        ckpt = checkpoint.read(self.path)
        if ckpt is not None:  # one this run can resume, or one line and nothing written
            epochs, classes = self.cfg.trainer.epochs, int(self.cfg.dataset.num_classes)
            checkpoint.check(ckpt, self.path, self.identity, self.variant, classes, epochs)
        self._record_config()
        return {"resume": ckpt is not None}

    def _finished_here(self) -> bool:
        done = read_result(self.path)
        if done is None:
            return False
        stored = canonical_identity(done.identity)
        check_same_config(self.path, stored, self.identity, "finished result")
        log.info("%s is already complete (test error %.2f%%); nothing to do", self.path, done.test_error)
        return True

    def _lock(self) -> None:
        try:
            fd = files.open_nofollow(self.path / LOCK, os.O_RDWR | os.O_CREAT)
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
        hydra_dir = files.own_dir(self.path / HYDRA)
        files.write_text(hydra_dir / "config.yaml", OmegaConf.to_yaml(self.cfg))
        overrides = _hydra_overrides()
        if overrides is not None:
            files.write_text(hydra_dir / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(overrides)))
        self._log = _LogFile(self.path / LOG)
        self._log.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] %(message)s"))
        logging.getLogger().addHandler(self._log)

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
            files.write_npy(self.path / files.SCORES, scores.numpy().astype(np.float16))
            files.write_npy(self.path / files.LABELS, labels.numpy().astype(np.int64))
            write_result(self.path, result)
        flat = {**result.config["optim"], **result.config["trainer"], **result.to_json()}
        metrics = {k: getattr(result, k) for k in FINAL_METRICS}
        self.board.hparams({k: flat[k] for k in HPARAMS}, metrics, step=result.epochs)


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
        fd = files.open_nofollow(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _hydra_overrides() -> list[str] | None:
    try:
        from hydra.core.hydra_config import HydraConfig
    except ImportError:
        return None
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else None
