"""What a dataset plug-in provides (`DatasetEntry`): a module of crelu_repro/datasets/ exports `ENTRIES`,
{`dataset.name`: entry}, and configs/dataset/<name>.yaml gives its values (class count, root, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from ..data.types import Feeder, Loader, RawData, Splits

# (model, test loader, batch size, runtime) -> ({result field: error %}, scores (N, classes), labels (N,))
TestMetrics = Callable[
    [torch.nn.Module, Loader, int, object], tuple[dict[str, float], torch.Tensor, torch.Tensor]
]
# (splits, dataset cfg, device, dtype, channels_last) -> (split, train) -> loader
MakeFeeder = Callable[[Splits, DictConfig, torch.device, torch.dtype, bool], Feeder]


def no_checks(dataset: DictConfig) -> list[str]:
    return []


@dataclass(frozen=True)
class DatasetEntry:
    read: Callable[[DictConfig], RawData]  # the dataset node -> its files' splits (limits applied)
    feeder: MakeFeeder
    test_metrics: TestMetrics
    # Keys of the dataset node it never reads: they must keep its file's value (else they would be recorded
    # in the run's identity yet change nothing), and config_checks.validate says so.
    ignores: tuple[str, ...] = ()
    check: Callable[[DictConfig], list[str]] = no_checks  # its own combinations of values: one line each
