"""TensorBoard output of a run (rank 0 only): scalars per epoch, hparams with the final metrics."""

from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams


class Dashboard:
    def __init__(self, run_dir: Path, enabled: bool, resume_step: int = 0) -> None:
        # purge_step drops events logged after the checkpoint we resume from, so curves never double back.
        self.writer = (
            SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step or None) if enabled else None
        )

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


def write_sweep_layout(sweep_dir: Path, title: str, tags: list[str]) -> None:
    """A custom-scalars layout at the sweep's root: one chart per metric, one line per run (variant x fold).

    `tensorboard --logdir <sweep dir>` then shows it under CUSTOM SCALARS, next to the HPARAMS view that
    every run's hparams summary fills.
    """
    layout = {title: {tag: ["Multiline", [f"^{tag}$"]] for tag in tags}}
    with SummaryWriter(str(Path(sweep_dir) / "_layout")) as writer:
        writer.add_custom_scalars(layout)
