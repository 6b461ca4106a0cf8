"""One description per run (issue 26): a config is validated once per process, and the model's Variant that
validation returns is the one object the run passes on (to its directory, the build, its identity)."""

from __future__ import annotations

from crelu_repro.run import checks, hydra_hooks
from crelu_repro.run.compose import compose
from crelu_repro.train import build, run_dir
from crelu_repro.train.trainer import train
from tests.helpers import TINY


def _count_checks(monkeypatch) -> list:
    calls = []
    real = checks._check

    def counted(cfg, world_size):
        calls.append(cfg.model.name)
        return real(cfg, world_size)

    monkeypatch.setattr(checks, "_check", counted)
    return calls


def test_the_hydra_hook_and_train_check_a_config_once(cifar_root, tmp_path, monkeypatch):
    calls = _count_checks(monkeypatch)
    overrides = [*TINY, f"dataset.root={cifar_root}", "seed=11"]  # (a config no other test checked)
    hydra_cfg = compose([*overrides, f"hydra.run.dir={tmp_path / 'run'}"], return_hydra_config=True)
    hydra_hooks._validate(hydra_cfg)  # what the hook does before Hydra makes the folder
    train(compose([*overrides, f"out_dir={tmp_path / 'run'}"]))
    assert calls == ["crelu_half"]


def test_a_sweep_checks_each_job_once(cifar_root, tmp_path, monkeypatch):
    calls = _count_checks(monkeypatch)
    jobs = [[*TINY[:-1], f"model={m}", f"dataset.root={cifar_root}", "seed=12"] for m in ("relu", "avr")]
    configs = [(job, compose([*job, f"hydra.run.dir={tmp_path}"], return_hydra_config=True)) for job in jobs]
    hydra_hooks.check_sweep(tmp_path / "sweep", configs)  # before the sweep's folder
    for i, job in enumerate(jobs):
        train(compose([*job, f"out_dir={tmp_path / str(i)}"]))
    assert calls == ["relu", "avr"]


def test_the_variant_validation_returns_is_the_one_the_run_uses(cifar_root, tmp_path, monkeypatch):
    cfg = compose([*TINY, f"dataset.root={cifar_root}", "seed=13", f"out_dir={tmp_path / 'run'}"])
    variant = checks.validate(cfg)
    seen = {}
    real_build, real_init = build.build_variant, run_dir.RunDir.__init__

    def spy_build(description, num_classes):
        seen["build"] = description
        return real_build(description, num_classes)

    def spy_init(self, cfg, ctx, description):
        seen["run_dir"] = description
        real_init(self, cfg, ctx, description)

    monkeypatch.setattr(build, "build_variant", spy_build)
    monkeypatch.setattr(run_dir.RunDir, "__init__", spy_init)
    train(cfg)
    assert seen["build"] is variant and seen["run_dir"] is variant
