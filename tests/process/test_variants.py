"""Variants are described by their Hydra config: the part that needs real processes (signals, exit codes,
subprocesses); the in-process tests are tests/unit/test_variants.py."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from tests.helpers import REPO


def test_the_installed_package_carries_the_model_configs(tmp_path):
    """`build_model(name)` works from an installed copy, far from this checkout's configs/."""
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheel_dir, REPO], check=True)
    (wheel,) = wheel_dir.glob("*.whl")
    assert {"crelu_repro/configs/model/crelu_half.yaml", "crelu_repro/configs/train.yaml"} <= set(
        zipfile.ZipFile(wheel).namelist()
    )
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    code = "import crelu_repro.models as m; print(m.__file__, m.build_model('crelu_half', 100).layers.conv3)"
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(str(site)) and "Conv2d(96, 48" in out.stdout
