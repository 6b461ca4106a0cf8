"""Multirun bookkeeping: which runs of a sweep trained, were skipped as already complete, or failed.

A failed run leaves `error.json` in its directory (and a successful rerun removes it), so the failures of
a sweep are visible afterwards too, whatever launcher ran it.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import runio

ERROR = "error.json"


@dataclass
class SweepLog:
    trained: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run dir, one-line error)

    def record_success(self, run_dir: Path, skipped: bool) -> None:
        (self.skipped if skipped else self.trained).append(str(run_dir))
        (Path(run_dir) / ERROR).unlink(missing_ok=True)

    def record_failure(self, run_dir: Path, err: BaseException) -> None:
        message = f"{type(err).__name__}: {err}"
        self.failed.append((str(run_dir), message))
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        runio.write_json(
            Path(run_dir) / ERROR,
            {"error": message, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
             "traceback": "".join(traceback.format_exception(err))},
        )  # fmt: skip

    def summary(self) -> str:
        lines = [f"sweep: {len(self.trained)} trained, {len(self.skipped)} skipped (already complete), "
                 f"{len(self.failed)} failed"]  # fmt: skip
        lines += [f"  FAILED {run_dir}\n    {message}" for run_dir, message in self.failed]
        return "\n".join(lines)


def failed_runs(sweep_dir: Path) -> list[tuple[str, str]]:
    """(run dir, error) for every run under `sweep_dir` whose last attempt failed."""
    found = sorted(Path(sweep_dir).rglob(ERROR))
    return [(str(p.parent), (runio.read_json(p) or {}).get("error", "unreadable error.json")) for p in found]
