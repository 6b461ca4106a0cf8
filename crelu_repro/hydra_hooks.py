"""Hydra callbacks (configs/train.yaml `hydra.callbacks`): checks that must run before Hydra touches disk.

Hydra creates the run (or sweep) directory before train() runs; a directory that cannot be made (a file in
its place, a read-only or full file system, no permission) would surface as Hydra's traceback. Here it is
one line and a non-zero exit. A directory that exists is left alone: skipping a finished run on a
read-only copy must keep working.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from .cli_paths import fail, output_dir
from .errors import CreluError


class OutputDirCheck(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        _check(lambda: output_dir(Path(config.hydra.run.dir), "hydra.run.dir"))

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        _check(lambda: output_dir(Path(config.hydra.sweep.dir), "hydra.sweep.dir"))


def _check(step) -> None:
    try:
        step()
    except CreluError as err:  # SystemExit passes through Hydra's error reporting: one line, no traceback
        sys.exit(fail(err))
