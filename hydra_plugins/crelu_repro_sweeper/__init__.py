"""`hydra/sweeper=crelu` (configs/hydra/sweeper/crelu.yaml, the project's default): Hydra's basic sweeper,
plus two things. Every job's config is checked before anything is made
(crelu_repro.run.hydra_hooks.check_sweep), so an invalid one stops the sweep without an empty job folder. And
the outcome each job returns (crelu_repro.run.sweep.Outcome) is counted in this process's sweep log when the
job ran in another process (submitit's launchers), so the sweep's summary and exit code cover every run.

Hydra instantiates sweepers only from the `hydra_plugins` package, hence this module; it stays light (Hydra
imports every plugin module at start-up) and reaches crelu_repro only once a sweep starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser


class CreluSweeper(BasicSweeper):
    def sweep(self, arguments: list[str]) -> Any:
        from crelu_repro.run.sweep import SWEEP

        self._check_every_job(arguments)  # before Hydra makes the sweep folder or any job's
        returns = super().sweep(arguments)
        for batch in returns:
            for job in batch:
                outcome = job.return_value
                if getattr(outcome, "pid", os.getpid()) != os.getpid():  # in-process jobs counted themselves
                    SWEEP.record(outcome)
        return returns

    def _check_every_job(self, arguments: list[str]) -> None:
        """Compose each job of the sweep as Hydra will (its own grid, in its order) and check its config
        (crelu_repro.run.hydra_hooks.check_sweep): an invalid job stops the sweep before anything is made."""
        from crelu_repro.run.hydra_hooks import check_sweep

        loader = self.hydra_context.config_loader
        parser = OverridesParser.create(config_loader=loader)
        parsed = parser.parse_overrides([*self._parse_config(), *arguments])
        jobs = [list(job) for batch in self.split_arguments(parsed, self.max_batch_size) for job in batch]
        configs = [(job, loader.load_sweep_config(self.config, job)) for job in jobs]
        check_sweep(Path(self.config.hydra.sweep.dir), configs)

    def validate_batch_is_legal(self, batch: Any) -> None:
        """Nothing left to do: `sweep` composed and checked every job before the first batch."""
