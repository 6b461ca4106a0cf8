"""python train.py model=<name> dataset=<name> [overrides]   (torchrun --nproc_per_node=N train.py ... too)

`python train.py -m experiment=<table>` runs a table's sweep; rerunning it skips the complete runs.
How a run flows: crelu_repro/train/trainer.py (`train`), one stage per module.
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from crelu_repro.core.errors import INTERRUPTED, CreluError, fail
from crelu_repro.core.paths import CONFIG_DIR, groups
from crelu_repro.run import checks, sweep
from crelu_repro.run.compose import check_override_keys, command_line_overrides, register
from crelu_repro.train import session

register()


# A launcher may run this in another process (submitit pickles it): it reaches the process's sweep log and
# stop flag through their modules, never through copies.
@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | sweep.Outcome | None:
    from crelu_repro.train.trainer import train

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        outcome = sweep.SWEEP.run(cfg, train)  # one run's failure is recorded; the sweep goes on
        session.STOP.hand_back()  # under submitit, after the checkpoint: its handler requeues the job
        return outcome
    try:
        return train(cfg)["test_error"]
    except CreluError as err:  # the user's to fix: one message, no traceback
        sys.exit(fail(err))


if __name__ == "__main__":
    try:
        check_override_keys(command_line_overrides(sys.argv[1:]), groups())  # grammar, then keys
        rank = checks.check_environment().rank  # RANK, WORLD_SIZE, CRELU_FAULT, CRELU_DATA: one line each
    except CreluError as err:
        sys.exit(fail(err))
    if rank > 0:  # under torchrun only rank 0 writes: the others get no Hydra output directory
        sys.argv += ["hydra/job_logging=none", "hydra/hydra_logging=none",
                     f"hydra.run.dir={os.environ.get('TMPDIR', '/tmp')}"]  # fmt: skip
    try:
        with session.STOP.installed():  # one handler for the whole process: a sweep stops between runs too
            main()
    except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint was waited for, but every file is whole
        print("interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        sys.exit(INTERRUPTED)
    if sweep.SWEEP:
        print(sweep.SWEEP.summary(), file=sys.stderr)
        sys.exit(sweep.SWEEP.exit_code)
