"""Multirun bookkeeping: what each run of a sweep did (trained, skipped as complete, busy with another
process, failed), and the sweep's stop on a stop signal (session.STOP_SIGNALS).

A failed run leaves `error.json` in its directory (and a successful rerun removes it), so the failures of a
sweep are visible afterwards too, whatever launcher ran it. A busy run is another process's: nothing is
written into it. After a stop signal the run in progress checkpoints, and every later run of the sweep is
listed as not started instead of trained (Hydra's launcher would otherwise go on to the next one).
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from ..core import files
from ..core.errors import FAILED, Preempted, RunDirBusy
from ..core.results import RESULT

ERROR = "error.json"


@dataclass(frozen=True)
class Outcome:
    """What one job of a sweep did: returned by the job, so a launcher that runs jobs in other processes
    (submitit) brings it back to the sweep's summary (hydra_plugins/crelu_repro_sweeper)."""

    kind: str  # trained | skipped | busy | failed | stopped | not_started
    run_dir: str
    message: str = ""  # busy: who owns it; failed: the error; stopped: the stop's message
    test_error: float | None = None
    complete: bool = False  # stopped after its result was written
    pid: int = field(default_factory=os.getpid)  # the process that ran it


@dataclass
class SweepLog:
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    busy: list[tuple[str, str]] = field(default_factory=list)  # (run dir, who owns it)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run dir, one-line error)
    stopped: str | None = None  # the stop signal's message, once one arrived
    not_started: list[str] = field(default_factory=list)

    def run(self, cfg: DictConfig, train: Callable[[DictConfig], dict]) -> Outcome:
        """One job of the sweep; never raises for a run's own failure (the others must still run)."""
        return self.record(self._run(cfg, train))

    def _run(self, cfg: DictConfig, train: Callable[[DictConfig], dict]) -> Outcome:
        run_dir = Path(cfg.out_dir)
        if self.stopped is not None:
            _remove_if_empty(run_dir)  # Hydra made it; nothing of this run is in it
            return Outcome("not_started", str(run_dir))
        try:
            result = train(cfg)
        except RunDirBusy as err:
            return Outcome("busy", str(run_dir), str(err).split(";")[0])
        except Preempted as err:  # checkpointed (or complete): the run resumes when the sweep is rerun
            return Outcome("stopped", str(run_dir), str(err), complete=(run_dir / RESULT).exists())
        except Exception as err:
            return Outcome("failed", str(run_dir), self.record_failure(run_dir, err))
        (run_dir / ERROR).unlink(missing_ok=True)
        kind = "skipped" if result.get("skipped") else "trained"
        return Outcome(kind, str(run_dir), test_error=result["test_error"])

    def record(self, o: Outcome) -> Outcome:
        """Count `o` in this sweep's summary."""
        if o.kind in ("trained", "skipped") or o.complete:
            (self.skipped if o.kind == "skipped" else self.trained).append(o.run_dir)
        elif o.kind == "busy":
            self.busy.append((o.run_dir, o.message))
        elif o.kind == "failed":
            self.failed.append((o.run_dir, o.message))
        elif o.kind == "not_started":
            self.not_started.append(o.run_dir)
        if o.kind == "stopped":
            self.stopped = self.stopped or o.message
        return o

    @staticmethod
    def record_failure(run_dir: Path, err: BaseException) -> str:
        """Write the run's error.json; return the failure's one-line message."""
        message = f"{type(err).__name__}: {err}"
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            files.write_json(
                run_dir / ERROR,
                {"error": message, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "traceback": "".join(traceback.format_exception(err))},
            )  # fmt: skip
        except Exception as write_err:  # the failure is still listed in the summary
            return f"{message} (and error.json could not be written: {write_err})"
        return message

    @property
    def exit_code(self) -> int:
        return Preempted.exit_code if self.stopped else FAILED if self.failed else 0

    def summary(self) -> str:
        lines = [
            f"sweep: {len(self.trained)} trained, {len(self.skipped)} skipped (already complete), "
            f"{len(self.busy)} busy (another process trains them), {len(self.failed)} failed"
            + (f", {len(self.not_started)} not started" if self.stopped else "")
        ]
        lines += [f"  BUSY {run_dir}: {who}" for run_dir, who in self.busy]
        lines += [f"  FAILED {run_dir}\n    {message}" for run_dir, message in self.failed]
        if self.stopped:
            lines += [f"stopped: {self.stopped}", *(f"  NOT STARTED {d}" for d in self.not_started)]
            lines.append("Rerun the same sweep command to finish it: complete runs are skipped.")
        return "\n".join(lines)

    def __bool__(self) -> bool:
        return bool(self.trained or self.skipped or self.busy or self.failed or self.stopped)


SWEEP = (
    SweepLog()
)  # this process's sweep: train.py prints its summary; the crelu sweeper adds other processes


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def error_message(path: Path) -> str:
    """The one-line error an error.json records, whatever the file holds (it may be damaged or foreign:
    read through files.load_json's bounds, any shape)."""
    try:
        obj = files.load_json(path)
    except FileNotFoundError:
        return "error.json is gone"
    except files.JsonFileError as err:
        return f"error.json {err}"
    message = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(message, str) or not message.strip():
        return f"error.json holds a JSON {type(obj).__name__} without an `error` text"
    line = " ".join(part.strip() for part in message.strip().splitlines())  # one line, for lists
    return line if len(line) <= 300 else line[:297] + "..."
