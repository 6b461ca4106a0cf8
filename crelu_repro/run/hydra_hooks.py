"""Hydra callbacks (configs/train.yaml `hydra.callbacks`): checks that must run before Hydra touches disk.
(The sweeper that brings back what each job did is a Hydra plugin: hydra_plugins/crelu_repro_sweeper/.)

Hydra creates the run (or sweep) directory before train() runs; a directory that cannot be made (a file in
its place, a read-only or full file system, no permission) would surface as Hydra's traceback, and a config
that cannot train (an impossible model, a value out of range) would leave an empty run directory behind.
Here both are one line and a non-zero exit, before the directory exists. A directory that exists is left
alone: skipping a finished run on a read-only copy must keep working.

A launcher that runs the jobs in other processes (submitit: `hydra/launcher=submitit_local`,
`submitit_slurm`, ours `slurm`) unpickles the callback there before it composes its job's config; that is
where the config's resolvers (paths.py's run-directory patterns) get registered in those processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from ..core.errors import ConfigError, CreluError, fail
from ..core.files import output_dir
from .checks import check_data, check_environment, validate
from .compose import register


def _job_process_callback() -> OutputDirCheck:
    register()  # in a launcher's job process: before its config (and run directory) is resolved
    return OutputDirCheck()


class OutputDirCheck(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        run_dir = Path(config.hydra.run.dir)
        _check(lambda: check_data(_validate(config), run_dir))  # before Hydra makes the run directory
        # (writable=False: a finished run's read-only copy is skipped, writing nothing; a run to train there
        # is refused by its lock, naming the folder)
        _check(lambda: output_dir(run_dir, "hydra.run.dir", writable=False))

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # made by the sweeper, once every job's config is checked (check_sweep): here only no file in its way
        _check(
            lambda: output_dir(Path(config.hydra.sweep.dir), "hydra.sweep.dir", create=False, writable=False)
        )

    def __reduce__(self):
        return (_job_process_callback, ())


def _validate(config: DictConfig, memory_check: bool = True) -> DictConfig:
    """`checks.validate` on the task's part of Hydra's config, which it returns (train() then finds it
    checked: once a process)."""
    task = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    with open_dict(task):
        del task["hydra"]
    OmegaConf.set_struct(task, True)
    validate(task, check_environment().world, memory_check=memory_check)
    return task


def check_sweep(sweep_dir: Path, jobs: list[tuple[list[str], DictConfig]]) -> None:
    """Every job of a sweep (its overrides, its composed config) checked before the sweep's folder is made or
    any job starts: an invalid one stops the whole sweep with one message naming each, and no folder is
    made. Then the sweep's folder is made (one line if it cannot be). The memory of one step and the data
    are left to each job, on the machine that runs it (a SLURM login node is not the GPU node; a job whose
    data is missing fails alone, the others of a table still train: a table lists its failed runs)."""
    bad = []
    for num, (overrides, config) in enumerate(jobs):
        try:
            _validate(config, memory_check=False)
        except CreluError as err:
            bad.append(f"#{num} {' '.join(overrides)}: {' '.join(str(err).split())}")
    if bad:
        listed = bad[:MAX_LISTED] + [f"... and {len(bad) - MAX_LISTED} more"] * (len(bad) > MAX_LISTED)
        sys.exit(fail(ConfigError(
            f"{len(bad)} of the sweep's {len(jobs)} jobs have an invalid configuration; no job was started "
            "and no folder made. Fix the overrides and rerun:" + "".join(f"\n  {line}" for line in listed)
        )))  # fmt: skip
    _check(lambda: output_dir(sweep_dir, "hydra.sweep.dir", writable=False))  # (a rerun of finished runs)


MAX_LISTED = 10  # invalid jobs named in full; a 100-run table with one bad override names the first ten


def _check(step) -> None:
    try:
        step()
    except CreluError as err:  # SystemExit passes through Hydra's error reporting: one line, no traceback
        sys.exit(fail(err))
