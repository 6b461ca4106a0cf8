"""Fault injection for the reliability tests: `CRELU_FAULT=<point>:<arg>` makes this process fail at a
named point. Read once at import; each hook is an integer or string compare when unset. `check` (run before
anything, by run/checks.py check_environment) refuses a malformed value in one line.

Points:
  kill_at_step:N          SIGKILL after global training step N (counted across epochs, from 1)
  kill_after_checkpoint:N SIGKILL right after the N-th checkpoint write of this process
  kill_in_write:NAME      SIGKILL inside the atomic write of file NAME (temp file written, not renamed)
  enospc_in_write:NAME    raise "No space left on device" inside the write of file NAME
  nan_at_step:N           make the loss of global step N NaN
"""

from __future__ import annotations

import errno
import os
import signal

from .errors import ConfigError

POINTS = {  # point -> its argument: a step or checkpoint count (int >= 1), or a file name (str)
    "kill_at_step": int,
    "kill_after_checkpoint": int,
    "kill_in_write": str,
    "enospc_in_write": str,
    "nan_at_step": int,
}
_spec = os.environ.get("CRELU_FAULT", "")
_point, _, _arg = _spec.partition(":")
_n = int(_arg) if POINTS.get(_point) is int and _arg.isdigit() else -1  # the argument of an int point
_checkpoints = 0


def check() -> None:
    """ConfigError (one line) unless CRELU_FAULT is unset or names a point with a valid argument."""
    spec = os.environ.get("CRELU_FAULT", "")
    point, _, arg = spec.partition(":")
    kind = POINTS.get(point)
    if spec and (kind is None or not arg or (kind is int and not (arg.isdigit() and int(arg) >= 1))):
        points = " | ".join(f"{p}:{'N' if k is int else 'NAME'}" for p, k in POINTS.items())
        raise ConfigError(
            f"CRELU_FAULT={spec!r} is not a fault point (N a whole number >= 1): {points}. It makes this "
            "process fail on purpose, for tests; unset it to train normally."
        )


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def at_step(global_step: int) -> None:
    if _point == "kill_at_step" and global_step == _n:
        _kill()


def poison(global_step: int) -> bool:
    """True when the loss of this step must be replaced by NaN."""
    return _point == "nan_at_step" and global_step == _n


def after_checkpoint() -> None:
    global _checkpoints
    _checkpoints += 1
    if _point == "kill_after_checkpoint" and _checkpoints == _n:
        _kill()


def in_write(name: str) -> None:
    if _arg != name:
        return
    if _point == "kill_in_write":
        _kill()
    if _point == "enospc_in_write":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
