"""python train.py model=<name> dataset=<name> [overrides]   (torchrun --nproc_per_node=N train.py ... too)

`python train.py -m experiment=<table>` runs a table's sweep; rerunning it skips the complete runs.
How a run flows: crelu_repro/trainer.py (`train`), one stage per module.
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from crelu_repro.cli_paths import fail
from crelu_repro.config import CONFIG_DIR, check_override_keys, register
from crelu_repro.distributed import env_rank
from crelu_repro.errors import CreluError
from crelu_repro.runtime import STOP
from crelu_repro.sweep import SweepLog

register()
SWEEP = SweepLog()


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    from crelu_repro.trainer import train  # after Hydra parsed the command line: `--help` stays fast

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return SWEEP.run(cfg, train)  # one run's failure is recorded; the sweep goes on
    try:
        return train(cfg)["test_error"]
    except CreluError as err:  # the user's to fix: one message, no traceback
        sys.exit(fail(err))


if __name__ == "__main__":
    groups = {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()}
    try:
        check_override_keys([a for a in sys.argv[1:] if not a.startswith("-")], groups)
    except CreluError as err:
        sys.exit(fail(err))
    if env_rank() > 0:  # under torchrun only rank 0 writes: the others get no Hydra output directory
        sys.argv += ["hydra/job_logging=none", "hydra/hydra_logging=none",
                     f"hydra.run.dir={os.environ.get('TMPDIR', '/tmp')}"]  # fmt: skip
    try:
        with STOP.installed():  # one handler for the whole process: a sweep stops between runs too
            main()
    except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint was waited for, but every file is whole
        print("interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        sys.exit(130)
    if SWEEP:
        print(SWEEP.summary(), file=sys.stderr)
        sys.exit(SWEEP.exit_code)
