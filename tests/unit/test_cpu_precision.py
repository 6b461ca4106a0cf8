"""Where a run computes in bf16: CUDA, and a CPU with bf16 instructions (avx512_bf16, AMX); fp32 elsewhere,
and everywhere with trainer.bf16=false. Channels_last on every device (trainer.channels_last)."""

from __future__ import annotations

import pytest
import torch

from crelu_repro.core import distributed
from crelu_repro.train.build import make_runtime
from tests.helpers import TINY


@pytest.mark.parametrize(
    "flags, bf16, expected",
    [({"avx512_bf16"}, "true", True), ({"amx_bf16", "avx2"}, "true", True), ({"avx2"}, "true", False),
     ({"amx_bf16"}, "false", False)],
)  # fmt: skip
def test_a_cpu_run_autocasts_to_bf16_only_where_the_cpu_computes_in_it(
    composer, monkeypatch, flags, bf16, expected
):
    monkeypatch.setattr(distributed, "cpu_flags", lambda: flags)
    rt = make_runtime(composer(*TINY, f"trainer.bf16={bf16}"), torch.device("cpu"), distributed.Dist())
    assert rt.amp is expected and rt.dtype == (torch.bfloat16 if expected else torch.float32)
    assert rt.channels_last and rt.memory_format == torch.channels_last
    with rt.autocast():
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == (torch.bfloat16 if expected else torch.float32)


def test_this_machines_flags_are_read():
    flags = distributed.cpu_flags()
    assert isinstance(flags, set) and (not flags or "fpu" in flags or len(flags) > 5)


def test_the_cpu_is_named_by_its_model_where_linux_says_it(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\nflags\t\t: fpu avx2\n")
    monkeypatch.setattr(distributed, "CPUINFO", str(info))
    assert distributed.cpu_name() == "Example CPU @ 2.0GHz" and distributed.cpu_flags() == {"fpu", "avx2"}
    info.write_text("processor\t: 0\n")  # no model name (some ARM kernels): the architecture names it
    assert distributed.cpu_name() and distributed.cpu_flags() == set()
    monkeypatch.setattr(distributed, "CPUINFO", str(tmp_path / "absent"))  # not Linux
    assert distributed.cpu_name() and distributed.cpu_flags() == set()
