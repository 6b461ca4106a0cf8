"""`hydra/sweeper=crelu` (configs/hydra/sweeper/crelu.yaml, the project's default): Hydra's basic sweeper,
plus the outcome each job returns (crelu_repro.sweep.Outcome) counted in this process's sweep log when the
job ran in another process (submitit's launchers), so the sweep's summary and exit code cover every run.

Hydra instantiates sweepers only from the `hydra_plugins` package, hence this module; it stays light (Hydra
imports every plugin module at start-up) and reaches crelu_repro only when a sweep ends.
"""

from __future__ import annotations

import os
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class CreluSweeper(BasicSweeper):
    def sweep(self, arguments: list[str]) -> Any:
        from crelu_repro.sweep import SWEEP

        returns = super().sweep(arguments)
        for batch in returns:
            for job in batch:
                outcome = job.return_value
                if getattr(outcome, "pid", os.getpid()) != os.getpid():  # in-process jobs counted themselves
                    SWEEP.record(outcome)
        return returns
