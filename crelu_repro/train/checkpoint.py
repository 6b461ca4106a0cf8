"""The trainer's checkpoint: its format (the keys it holds, a version), written atomically and loaded without
arbitrary unpickling; a file that is not one this trainer can resume is refused with one line.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from ..core.errors import ConfigError
from ..core.files import atomic_write

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(run_dir: Path, state: dict) -> None:
    buffer = io.BytesIO()  # serialize first: a failing torch.save never touches the disk
    torch.save(state, buffer)
    atomic_write(run_dir / CHECKPOINT, lambda f: f.write(buffer.getbuffer()))


# What the trainer's checkpoint holds (trainer.py writes it); anything else is not ours to resume.
TRAINER_KEYS = ("format", "model", "optimizer", "scheduler", "state", "rng", "identity", "data", "network")
# Bump when the layout changes; an older checkpoint is then refused with a message. 3: + "network", the
# network's structure fingerprint (each weight's shape), checked before a resume.
FORMAT = 3


def _why_unreadable(exc: Exception) -> str:
    """One line: torch's own messages run over many (the weights-only refusal over ten)."""
    if isinstance(exc, pickle.UnpicklingError):
        return "it holds Python objects beyond tensors and plain values; loading them could run code"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text if len(text) <= 200 else text[:197] + '...'}"


def load_checkpoint(run_dir: Path, require: tuple[str, ...] = TRAINER_KEYS) -> dict | None:
    """The checkpoint, loaded with weights_only=True (no arbitrary unpickling), or None if absent. A file
    that loads but lacks the `require`d keys (a bare state_dict, a list, another trainer's) is refused."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # atomic writes make this unlikely: a damaged disk or a foreign file
        raise ConfigError(
            f"{path} cannot be read ({_why_unreadable(exc)}). Move it away to start this run afresh."
        ) from exc
    missing = [k for k in require if not isinstance(ckpt, dict) or k not in ckpt]
    stale = "format" in require and isinstance(ckpt, dict) and "format" in ckpt and ckpt["format"] != FORMAT
    if missing or stale:
        what = f"a {type(ckpt).__name__}" + (f" without {', '.join(map(repr, missing))}" if missing else "")
        if stale:  # an older (or newer) trainer's: its format says more than the keys it lacks
            what = f"format {ckpt.get('format')!r}, this trainer writes format {FORMAT}"
        raise ConfigError(
            f"{path} is not a checkpoint this trainer can resume ({what}). Move it away to start this "
            "run afresh, or rerun with the code version that wrote it."
        )
    return ckpt
