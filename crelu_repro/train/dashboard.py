"""TensorBoard output of a run (rank 0 only): scalars per epoch, hparams with the final metrics; and a
sweep's dashboard layout: `python -m crelu_repro.train.dashboard SWEEP_DIR [--title T]` (what `make
tensorboard TABLE=<table>` runs before serving).

EPOCH_SCALARS is the one list of what a run logs per epoch: the trainer logs it, the layout charts it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from ..core import files
from ..core.errors import USAGE, CreluError, fail
from ..core.files import output_dir
from ..core.results import RESULT

TB = "tb"  # a run's TensorBoard folder

# TensorBoard tag -> the field of a history record (results.EpochRecord) it shows.
EPOCH_SCALARS = {
    "test/error": "test_error",
    "val/error": "val_error",
    "train/loss": "train_loss",
    "train/error_running": "train_error_running",
    "lr": "lr",
    "throughput/images_per_s": "images_per_s",
}
HPARAMS = ("model", "dataset", "seed", "lr", "batch_size", "epochs")  # the hparams view's columns
FINAL_METRICS = ("test_error", "train_error", "val_error")  # shown as hparam/<name>


class Dashboard:
    def __init__(self, run_dir: Path, enabled: bool, resume_step: int = 0) -> None:
        # purge_step drops events logged after the checkpoint we resume from, so curves never double back.
        self.writer = None
        if enabled:  # a link in the folder's place is refused: events are written inside the run only
            tb = files.own_dir(Path(run_dir) / TB)
            self.writer = SummaryWriter(str(tb), purge_step=resume_step or None)

    def epoch(self, record: object) -> None:
        """One epoch's EPOCH_SCALARS from a history record (fields of results.EpochRecord)."""
        self.scalars({tag: getattr(record, name) for tag, name in EPOCH_SCALARS.items()}, record.epoch)

    def scalars(self, values: dict[str, float | None], step: int) -> None:
        if self.writer is None:
            return
        for tag, value in values.items():
            if value is not None:
                self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def hparams(self, params: dict, metrics: dict[str, float | None], step: int) -> None:
        """Written into the run's own event file (add_hparams would create a sub-run per call)."""
        if self.writer is None:
            return
        params = {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in params.items()}
        metrics = {f"hparam/{k}": v for k, v in metrics.items() if v is not None}
        exp, ssi, sei = hparams(params, metrics)
        for summary in (exp, ssi, sei):
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def write_sweep_layout(sweep_dir: Path, title: str) -> Path:
    """A custom-scalars layout at the sweep's root: one chart per EPOCH_SCALARS tag, one line per run.

    `tensorboard --logdir <sweep dir>` then shows it under CUSTOM SCALARS, next to the HPARAMS view that
    every run's hparams summary fills.
    """
    layout = {title: {tag: ["Multiline", [f"^{tag}$"]] for tag in EPOCH_SCALARS}}
    with SummaryWriter(str(Path(sweep_dir) / "_layout")) as writer:
        writer.add_custom_scalars(layout)
    return Path(sweep_dir) / "_layout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a sweep's TensorBoard layout (one chart per metric)")
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--title", help="default: the sweep folder's name")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"error: no sweep at {args.sweep_dir}; run its `make table-...` first", file=sys.stderr)
        return USAGE
    if not any(args.sweep_dir.rglob(RESULT)):  # e.g. multirun/claims: its own images, no runs to chart
        print(f"no finished runs under {args.sweep_dir}: no run layout written")
        return 0
    try:  # a file or a link at <sweep>/_layout: one line, nothing written through it
        output_dir(args.sweep_dir / "_layout", "the TensorBoard layout", fix="copy the sweep elsewhere")
    except CreluError as err:
        return fail(err)
    print(write_sweep_layout(args.sweep_dir, args.title or args.sweep_dir.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
