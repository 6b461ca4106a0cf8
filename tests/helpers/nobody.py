"""Commands run as an unprivileged user. The suite runs as root, for whom every folder is writable, so a
read-only folder proves nothing unless the command runs as someone else: here, as `nobody`.

`nobody` must reach the interpreter, this checkout and the packages. The checkout and the virtual
environment's packages are world-readable, but an interpreter may live where `nobody` cannot go (pyenv's
under /root, mode 0700): then the system's interpreter of the same version runs instead, with this checkout
and the environment's site-packages on its PYTHONPATH. Where neither works (not root, no `nobody`), `why_not`
says so and the tests skip.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from . import REPO, train_env

USER = "nobody"


def world_dir() -> Path:
    """A new temporary folder that `nobody` may read but not write (pytest's own are root's alone, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="crelu-nobody-"))
    path.chmod(0o755)
    return path


def env(home: Path) -> dict:
    """The child's environment: this checkout and the packages importable, a home of its own (matplotlib
    writes its cache there), no bytecode written into the checkout."""
    paths = [str(REPO), *site.getsitepackages(), os.environ.get("PYTHONPATH", "")]
    return train_env(
        PYTHONPATH=os.pathsep.join(filter(None, paths)), HOME=str(home), PYTHONDONTWRITEBYTECODE="1"
    )


def run(args: list[str], home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python args...` as `nobody` (its own user and group, no supplementary groups), from the checkout."""
    return subprocess.run(
        [interpreter(), *args], cwd=REPO, env=env(home), capture_output=True, text=True, timeout=timeout,
        user=USER, group=pwd.getpwnam(USER).pw_gid, extra_groups=[],
    )  # fmt: skip


def interpreter() -> str:
    found = _interpreter()
    assert not found.startswith("("), found
    return found


def why_not() -> str | None:
    """Why commands cannot run as `nobody` here (None when they can)."""
    found = _interpreter()
    return found[1:-1] if found.startswith("(") else None


@functools.cache
def _interpreter() -> str:
    """The interpreter `nobody` can run this checkout with, or "(why not)"."""
    if os.geteuid() != 0:
        return "(not root: no way to run a command as another user)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"(no user {USER!r} on this machine)"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    home = world_dir()
    try:
        for candidate in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
            if candidate and _runs(candidate, home):
                return candidate
    finally:
        shutil.rmtree(home)
    return f"(neither {sys.executable} nor a system {version} runs this checkout as {USER})"


def _runs(candidate: str, home: Path) -> bool:
    """Whether `candidate`, as `nobody`, imports what the commands need, as uid `nobody` indeed."""
    code = "import os, torch, hydra, crelu_repro.train.trainer; print(os.getuid())"
    try:
        proc = subprocess.run(
            [candidate, "-c", code], cwd=REPO, env=env(home), capture_output=True, text=True, timeout=120,
            user=USER, group=pwd.getpwnam(USER).pw_gid, extra_groups=[],
        )  # fmt: skip
    except OSError:  # the interpreter cannot be reached or run as nobody
        return False
    return proc.returncode == 0 and proc.stdout.strip() == str(pwd.getpwnam(USER).pw_uid)
