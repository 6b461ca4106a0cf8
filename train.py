"""python train.py model=<name> dataset=<name> [overrides]   (torchrun --nproc_per_node=N train.py ... too)"""

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from crelu_repro.config import check_override_keys, register
from crelu_repro.distributed import env_rank
from crelu_repro.errors import CreluError

register()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    from crelu_repro.trainer import train  # after Hydra parsed the command line: `--help` stays fast

    try:
        return train(cfg)["test_error"]
    except CreluError as err:  # the user's to fix: one message, no traceback
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    groups = {p.name for p in (Path(__file__).parent / "configs").iterdir() if p.is_dir()}
    try:
        check_override_keys([a for a in sys.argv[1:] if not a.startswith("-")], groups)
    except CreluError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    if env_rank() > 0:  # under torchrun only rank 0 writes: the others get no Hydra output directory
        sys.argv += [
            "hydra.output_subdir=null",
            "hydra/job_logging=none",
            "hydra/hydra_logging=none",
            f"hydra.run.dir={os.environ.get('TMPDIR', '/tmp')}",
        ]
    main()
