"""What the project takes from Hydra's sweeper, checked so that a Hydra release that changes it fails here,
loudly, instead of a sweep planning or running other jobs than it says.

- The table planner enumerates a sweep's jobs itself, through public API (evidence/tables/planned.py
  `sweep_jobs`): its jobs must be exactly the ones Hydra's basic sweeper runs, in the same order.
- The sweeper plugin (hydra_plugins/crelu_repro_sweeper) subclasses BasicSweeper, the documented way to
  extend it, and relies on the members below; pyproject.toml pins hydra-core to the minor version tested.
"""

from __future__ import annotations

import inspect

import hydra
import pytest
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from crelu_repro.evidence.tables import table_names
from crelu_repro.evidence.tables.planned import sweep_jobs
from crelu_repro.evidence.tables.spec import compose_experiment
from hydra_plugins.crelu_repro_sweeper import CreluSweeper

EXTRA = [
    [],
    ["seed=0,1", "trainer.epochs=3"],
    ["model=relu,crelu", "model=avr"],  # a later override of a key replaces the earlier, in its place
    ["seed=range(0,3)", "eval.fold=choice(1,2)", "+trainer.foo=1"],
]


@pytest.mark.parametrize("table", table_names())
@pytest.mark.parametrize("extra", EXTRA, ids=["plain", "recipe", "replaced", "range"])
def test_the_planner_enumerates_the_jobs_hydras_sweeper_runs(table, extra):
    experiment = compose_experiment(table, [f"experiment={table}"], [])
    params = OmegaConf.to_container(experiment.hydra.sweeper.params or {}, resolve=True)
    lines = [f"{k}={v}" for k, v in params.items()] + [f"experiment={table}", *extra]
    parsed = OverridesParser.create().parse_overrides(lines)
    ours = sweep_jobs(parsed)
    assert ours and ours == BasicSweeper.split_arguments(parsed, None)[0]


def test_the_sweeper_base_class_still_has_what_the_plugin_uses():
    assert hydra.__version__.startswith("1.3."), f"hydra-core {hydra.__version__}: pyproject pins 1.3"
    assert list(inspect.signature(BasicSweeper.split_arguments).parameters) == ["overrides", "max_batch_size"]
    assert list(inspect.signature(BasicSweeper.sweep).parameters) == ["self", "arguments"]
    assert list(inspect.signature(BasicSweeper.validate_batch_is_legal).parameters) == ["self", "batch"]
    assert list(inspect.signature(BasicSweeper._parse_config).parameters) == ["self"]
    setup = inspect.getsource(BasicSweeper.setup)
    for attribute in ("self.config", "self.hydra_context", "self.launcher"):
        assert attribute in setup, f"BasicSweeper.setup no longer sets {attribute}"
    assert "self.max_batch_size" in inspect.getsource(BasicSweeper.__init__)
    assert issubclass(CreluSweeper, BasicSweeper)
    overridden = {"sweep", "validate_batch_is_legal"}
    assert overridden <= set(vars(CreluSweeper)) and all(hasattr(BasicSweeper, m) for m in overridden)
