"""Where a run came from and whether it is the same: the code version (`git describe`) and the differences
between two configs (a resume, a run directory reused).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .. import __version__
from ..core.errors import ConfigError


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two nested config dicts: ['trainer.epochs: 10 -> 20']."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return diffs


def check_same_config(run_dir: Path, stored: dict, current: dict, what: str) -> None:
    diffs = config_diff(stored, current)
    if diffs:
        raise ConfigError(
            f"{run_dir} holds the {what} of a different configuration, so it will not be resumed or "
            f"overwritten:\n  " + "\n  ".join(diffs[:12]) + "\nRun with a new hydra.run.dir, or move that "
            "directory away."
        )


def code_version() -> str:
    """`git describe` of the source tree (with -dirty), or the package version outside a checkout."""
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"crelu_repro {__version__} (no git checkout)"
