"""SLURM sweeps through hydra-submitit-launcher, tested for real with submitit's local executor
(`hydra/launcher=submitit_local`: the same launcher code, each job in its own process, submitit's signal
handling and requeue): the results equal the basic launcher's; SIGUSR2 (submitit's warning before a time
limit) makes the run checkpoint and the requeued job resume to the uninterrupted result; SIGTERM (preemption,
`scancel`) makes it checkpoint and the rerun sweep finish it."""

from __future__ import annotations

import signal

import pytest

pytest.importorskip(
    "hydra_plugins.hydra_submitit_launcher", reason="the slurm extra (hydra-submitit-launcher)"
)


def test_the_slurm_launcher_warns_before_the_limit_with_a_signal_the_trainer_handles(tmp_path):
    """configs/hydra/launcher/slurm.yaml: what sbatch gets, without a cluster (submitit writes the script)."""
    from submitit.slurm.slurm import _make_sbatch_string

    from crelu_repro.run.compose import compose
    from crelu_repro.train.session import STOP_SIGNALS

    launcher = compose(["hydra/launcher=slurm"], return_hydra_config=True).hydra.launcher
    script = _make_sbatch_string(
        command="python -m submitit.core._submit x", folder=tmp_path, time=launcher.timeout_min,
        signal_delay_s=launcher.signal_delay_s,
    )  # fmt: skip
    assert "#SBATCH --signal=USR2@120" in script and signal.SIGUSR2 in STOP_SIGNALS
    assert launcher.max_num_timeout >= 1  # the plugin's 0 would not requeue a run at its first time limit
