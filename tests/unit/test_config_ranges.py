"""Every config value is range-checked at composition, before any data is read: one message naming the key,
the value and the valid range. The ranges live in the schema (crelu_repro/core/schema.py); the walk below
covers every field, so a field added without a range fails here."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hydra.errors import ConfigCompositionException

from crelu_repro.core.errors import ConfigError
from crelu_repro.core.schema import Free, OneOf, Range, TrainConfig
from crelu_repro.run.checks import CompileBackends, registries, validate
from crelu_repro.run.compose import compose


def leaves(schema: type = TrainConfig, prefix: str = "") -> list[tuple[str, dataclasses.Field]]:
    out = []
    for f in dataclasses.fields(schema):
        factory = f.default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            out += leaves(factory, f"{prefix}{f.name}.")
        else:
            out.append((prefix + f.name, f))
    return out


LEAVES = leaves()
CHECKED = [(k, f) for k, f in LEAVES if isinstance(f.metadata.get("check"), Range | OneOf)]
# A value with no range says why; adding a field to this list is a decision someone has to write down.
FREE = {
    "model.name": "its own check (a safe path component)",
    "model.acts": "checked with the description",
    "model.widths": "checked with the description",
    "model.note": "text",
    "dataset.root": "a folder",
    "out_dir": "a folder",
    "table": "a table's node: schema.TableConfig types it, crelu_repro.evidence.tables checks its names",
}


def test_every_field_declares_a_range_or_why_it_has_none():
    for key, f in LEAVES:
        check = f.metadata.get("check")
        assert isinstance(check, Range | OneOf | Free), (
            f"{key} declares no range in crelu_repro/core/schema.py"
        )
        if isinstance(check, Free) and "type (bool or enum)" not in check.why:
            assert key in FREE, f"{key} has no range ({check.why}); give it one or list it in FREE"


def _override(key: str, value: object) -> str:
    return f"{key}={json.dumps(value) if isinstance(value, list) else value}"


@pytest.mark.parametrize("key, f", CHECKED, ids=[k for k, _ in CHECKED])
def test_an_out_of_range_value_of_every_field_is_refused_by_name(key, f):
    check = f.metadata["check"]
    bad = check.outside()
    extra = ["sched=step"] if key.startswith("sched.milestones") else []
    with pytest.raises(ConfigError) as err:
        validate(compose([*extra, _override(key, bad)]))
    message = str(err.value)
    assert f"{key}=" in message and check.describe(registries()) in message, message


FLOATS = [(k, f) for k, f in CHECKED if isinstance(c := f.metadata["check"], Range) and not c.integer]


@pytest.mark.parametrize("key, f", FLOATS, ids=[k for k, _ in FLOATS])
@pytest.mark.parametrize("bad", ["inf", "-inf", "nan"])
def test_no_float_of_the_schema_takes_infinity_or_nan(key, f, bad):
    """`optim.lr=inf` passed `> 0`, made a run folder and trained on NaN: no value of ours means infinity."""
    check = f.metadata["check"]
    extra = ["sched=step"] if key.startswith("sched.milestones") else []
    with pytest.raises(ConfigError) as err:
        validate(compose([*extra, _override(key, [float(bad)] if check.each else bad)]))
    assert f"{key}=" in str(err.value) and check.describe() in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "key", [k for k, f in LEAVES if isinstance(f.metadata.get("check"), Free) and k not in FREE]
)
def test_a_bool_or_enum_of_the_wrong_kind_fails_at_composition(key):
    with pytest.raises(ConfigCompositionException):
        compose([f"{key}=bogus_value"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["trainer.label_smoothing=2"], "trainer.label_smoothing=2.0: must be in [0, 1)"),
        (["trainer.label_smoothing=-0.5"], "trainer.label_smoothing=-0.5: must be in [0, 1)"),
        (["optim.momentum=-1"], "optim.momentum=-1.0: must be in [0, 1)"),
        (["optim.momentum=0"], "optim.momentum=0.0: Nesterov needs momentum > 0"),
        (["optim.weight_decay=-1"], "optim.weight_decay=-1.0: must be >= 0"),
        (["sched.pct_start=1.5"], "sched.pct_start=1.5: must be in (0, 1)"),
        (["sched.div_factor=0"], "sched.div_factor=0.0: must be > 0"),
        (["optim.lr=inf"], "optim.lr=inf: must be > 0 and finite"),
        (
            ["seed=1180591620717411303424"],
            "seed=1180591620717411303424: must be an integer in [0, 4294967295]",
        ),
        (["eval.split_seed=-1"], "eval.split_seed=-1: must be an integer in [0, 4294967295]"),
        (
            ["trainer.compile_mode=bogus"],
            "trainer.compile_mode='bogus': must be one of default, reduce-overhead",
        ),
        (["eval.train_error_images=-5"], "eval.train_error_images=-5: must be an integer >= 0"),
        (
            ["dataset.limit_train=300", "eval=kfold", "eval.folds=1000", "eval.fold=999"],
            "eval.folds=1000: more",
        ),
        (["+trainer.foo=1"], "trainer.foo: unknown key (added with +?); trainer has epochs, batch_size"),
    ],
)
def test_the_values_that_gave_a_traceback_or_passed_silently(overrides, message):
    with pytest.raises(ConfigError, match=None) as err:
        validate(compose(overrides))
    assert message in str(err.value)
    assert "\n" not in str(err.value)  # one problem, one line


def test_compile_backends_are_torchs_own_list():
    backends = CompileBackends()
    assert "inductor" in backends and "eager" in backends  # answered without importing torch._dynamo
    assert "aot_eager" in backends and "aot_eager" in list(backends)  # listed by torch._dynamo
    assert "bogus" not in backends and "bogus" not in list(backends)
