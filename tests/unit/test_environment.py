"""The environment a run reads (torchrun's variables, CRELU_FAULT, CRELU_DATA) is checked before anything
else: a malformed or stray value is one line and a non-zero exit, and outputs never go elsewhere. Every stop
signal a cluster or a terminal sends (SIGTERM, SIGINT, SIGHUP, SIGUSR2) makes the run checkpoint."""

from __future__ import annotations

import pytest

from crelu_repro.core.errors import ConfigError

BAD = {
    "a stray RANK": ({"RANK": "1"}, "RANK=1 is set, but WORLD_SIZE is unset: this process is not part of a"),
    "RANK 1 of 1": ({"RANK": "1", "WORLD_SIZE": "1"}, "RANK=1 is set, but WORLD_SIZE is 1"),
    "a word for RANK": ({"RANK": "one"}, "RANK='one': must be a whole number >= 0"),
    "a negative RANK": ({"RANK": "-1", "WORLD_SIZE": "2"}, "RANK='-1': must be a whole number >= 0"),
    "RANK past the world": (
        {"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "x", "MASTER_PORT": "1"},
        "RANK=2: must be below WORLD_SIZE=2",
    ),
    "no world": ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0': must be a whole number >= 1"),
    "a world without torchrun": (
        {"WORLD_SIZE": "2"},
        "WORLD_SIZE=2, but RANK, MASTER_ADDR, MASTER_PORT are not",
    ),
    "no rendezvous": ({"WORLD_SIZE": "2", "RANK": "0"}, "WORLD_SIZE=2, but MASTER_ADDR, MASTER_PORT are not"),
    "a word for LOCAL_RANK": ({"LOCAL_RANK": "x"}, "LOCAL_RANK='x': must be a whole number >= 0"),
    "a word for the timeout": (
        {"CRELU_DIST_TIMEOUT_S": "soon"},
        "CRELU_DIST_TIMEOUT_S='soon': must be a number",
    ),
    "an unknown fault": ({"CRELU_FAULT": "explode"}, "CRELU_FAULT='explode' is not a fault point"),
    "a fault at no step": ({"CRELU_FAULT": "kill_at_step:soon"}, "'kill_at_step:soon' is not a fault point"),
    "a fault without its step": ({"CRELU_FAULT": "nan_at_step:"}, "'nan_at_step:' is not a fault point"),
    "an empty CRELU_DATA": ({"CRELU_DATA": ""}, "CRELU_DATA='' is set but empty, so the data root would be"),
}


@pytest.mark.parametrize("env, expected", BAD.values(), ids=BAD.keys())
def test_a_bad_environment_is_refused_before_anything(cifar_train, tmp_path, monkeypatch, env, expected):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        cifar_train()
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()
