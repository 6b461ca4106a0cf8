"""The discussion figures' sets: which table runs each figure compares (`make figures`, `make claims`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..tables import RunRecord, Table
from ..tables.evidence import check_run


@dataclass(frozen=True)
class FigureSet:
    sweep: str  # the table whose runs the set draws (its sweep folder is <sweeps>/<table>)
    dataset: str
    compare: tuple[str, str]  # (ReLU model, CReLU model): the pairing and invariance figures
    invert: str  # a model with CReLU up to conv4: the reconstruction figure

    def records(self, table: Table) -> dict[str, RunRecord]:
        """model -> the first run `table` (this set's, planned with its recipe and sweep folder) plans for
        it on the set's dataset (seed 0 / fold 0), with its result only where it counts, as in the table."""
        first = {}
        for run in table.runs:
            if run.dataset == self.dataset and run.row in (*self.compare, self.invert):
                first.setdefault(run.row, run)
        return {model: check_run(table, run) for model, run in first.items()}


FIGURE_SETS = {
    # paper: CIFAR-10 invariance panel (a); ConvPool-CNN-C has max-pooling, so its reconstruction goes
    # through pool1 with switches (our extension, marked approximate in the figure).
    "cifar10": FigureSet("convpool", "cifar10", ("relu", "crelu"), "crelu"),
    # paper: pairing on an AlexNet-like conv1 (All-CNN-B's is the same 11x11x3 x 96), ImageNet invariance
    # panel (b), and reconstruction "for a model without max-pooling" from conv1..conv4: CReLU (conv1-4).
    "imagenet": FigureSet(
        "imagenet", "imagenet", ("allcnnb_relu", "allcnnb_crelu_conv1_7"), "allcnnb_crelu_conv1_4"
    ),
}
