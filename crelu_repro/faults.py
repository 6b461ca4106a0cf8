"""Fault injection for the reliability tests: `CRELU_FAULT=<point>:<arg>` makes this process fail at a
named point. Read once at import; each hook is an integer or string compare when unset.

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

_point, _, _arg = os.environ.get("CRELU_FAULT", "").partition(":")
_checkpoints = 0


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def at_step(global_step: int) -> None:
    if _point == "kill_at_step" and global_step == int(_arg):
        _kill()


def poison(global_step: int) -> bool:
    """True when the loss of this step must be replaced by NaN."""
    return _point == "nan_at_step" and global_step == int(_arg)


def after_checkpoint() -> None:
    global _checkpoints
    _checkpoints += 1
    if _point == "kill_after_checkpoint" and _checkpoints == int(_arg):
        _kill()


def in_write(name: str) -> None:
    if _arg != name:
        return
    if _point == "kill_in_write":
        _kill()
    if _point == "enospc_in_write":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
