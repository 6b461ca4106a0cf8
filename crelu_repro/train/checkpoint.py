"""A run's checkpoint, in one place: what it holds, its format, writing it atomically, reading it without
arbitrary unpickling, refusing one this run cannot resume (one line each), and putting it back.

The trainer calls `save` (after each epoch and pause) and `resume` (when the run directory holds one);
RunDir calls `read` and `check` when it claims a directory, before anything is written there.
Everything a resume needs is here: the network, optimizer, scheduler, the loop's TrainState, the RNGs,
the run's identity, the data's fingerprint and the network's layout. Rerunning the same command in the
same directory therefore resumes and ends with the same result.
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path

import torch

from ..core import distributed, faults
from ..core.errors import ConfigError, TrainingError
from ..core.files import atomic_write
from ..models import Variant, expected_layout, layout, layout_changes
from ..run.identity import canonical_identity, check_same_config
from .build import Built
from .state import TrainState

log = logging.getLogger("crelu_repro")
CHECKPOINT = "checkpoint.pt"
# What the trainer's checkpoint holds; anything else is not ours to resume.
KEYS = ("format", "model", "optimizer", "scheduler", "state", "rng", "identity", "data", "network")
# Bump when the layout changes; an older checkpoint is then refused with a message. 3: + "network", the
# network's structure fingerprint (each weight's shape), checked before a resume.
FORMAT = 3


def save(run_dir: Path, built: Built, state: TrainState, identity: dict) -> None:
    """Collective: every rank totals its running sums into the state; rank 0 writes the file atomically,
    every rank waits for it (a consistent point to stop at). `state.saved` then says where it is."""
    rt = built.rt
    contents = {
        "format": FORMAT,
        "model": built.raw.state_dict(),
        "optimizer": built.optimizer.state_dict(),
        "scheduler": built.scheduler.state_dict(),
        "state": state.state_dict(rt.dist),
        "rng": _rng_state(rt.device),
        "identity": identity,
        "data": built.splits.fingerprint,
        "network": layout(built.raw),  # checked before a resume: a code change can change the network
    }
    if rt.dist.is_main:
        write(run_dir, contents)
    state.saved = contents["state"]
    distributed.barrier(rt.dist)
    faults.after_checkpoint()


def resume(ckpt: dict, built: Built, run_dir: Path) -> TrainState:
    """The checkpoint's TrainState, with the network, optimizer, scheduler and RNGs restored; refused (one
    line, nothing touched) when the data differs or its step is one this run's epoch does not have."""
    _check_data(ckpt, built, run_dir)
    rt = built.rt
    built.raw.load_state_dict(ckpt["model"])
    load_optimizer_state(built.optimizer, ckpt["optimizer"])
    built.scheduler.load_state_dict(ckpt["scheduler"])
    state = TrainState.fresh(rt.device)
    state.load_state_dict(ckpt["state"], rt.device, rt.dist.is_main)
    state.saved = ckpt["state"]
    _set_rng_state(ckpt["rng"], rt.device)
    log.info("resuming at epoch %d, step %d", state.epoch + 1, state.step)
    return state


def diverged(err: TrainingError, state: TrainState) -> TrainingError:
    """`err` (a non-finite loss) completed with what is true of the run's checkpoint."""
    if state.saved is None:
        kept = (
            "no checkpoint was written before it, so a rerun starts afresh. Check the data, or lower optim.lr"
        )
    else:
        at = f"epoch {state.saved['epoch'] + 1}, step {state.saved['step']}"
        kept = f"the last good checkpoint is kept: a rerun resumes from it (at {at}). Lower optim.lr"
    return TrainingError(f"{err}; {kept}.")


def write(run_dir: Path, contents: dict) -> None:
    buffer = io.BytesIO()  # serialize first: a failing torch.save never touches the disk
    torch.save(contents, buffer)
    atomic_write(run_dir / CHECKPOINT, lambda f: f.write(buffer.getbuffer()))


def read(run_dir: Path, require: tuple[str, ...] = KEYS) -> dict | None:
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


def check(ckpt: dict, run_dir: Path, identity: dict, variant: Variant, num_classes: int, epochs: int) -> None:
    """Before anything is written: the checkpoint is of this configuration, its network is the one this code
    builds for it (a code change between the run and its resume can change it), and its position is one
    this run reaches. Else one line naming the difference; the checkpoint is left as it is."""
    stored = canonical_identity(ckpt["identity"])  # (an older version stored more keys)
    check_same_config(run_dir, stored, identity, "checkpoint")
    changes = layout_changes(ckpt["network"], expected_layout(variant, num_classes))
    if changes:
        raise _unresumable(
            run_dir,
            "a network of another structure than this code builds for the same config (the code changed "
            f"since it was written?): {'; '.join(changes)}",
        )
    state = ckpt["state"]
    missing = [k for k in ("epoch", "step", "history", "sums", "wall_s") if k not in state]
    if missing:
        raise _unresumable(run_dir, f"a training state without {', '.join(missing)}")
    if not _consistent(state, epochs):
        raise _unresumable(
            run_dir,
            f"an inconsistent position: epoch {state['epoch']}, step {state['step']}, "
            f"{len(state['history'])} epochs of history, for a run of trainer.epochs={epochs}",
        )


def _check_data(ckpt: dict, built: Built, run_dir: Path) -> None:
    """Refuse to resume on different data (moving the same files elsewhere is fine: no paths inside), or
    at a step the epoch does not have."""
    saved, now = ckpt.get("data"), built.splits.fingerprint
    if saved is not None and saved != now:
        raise ConfigError(
            f"{run_dir} was trained on different data, so it will not be resumed on this data:\n"
            f"  checkpoint: {saved}\n  now:        {now}\n"
            f"Point dataset.root at the files it was trained on, or use a new hydra.run.dir."
        )
    step = ckpt["state"].get("step", 0)
    if step >= built.steps_per_epoch:
        raise _unresumable(run_dir, f"step {step} of an epoch of {built.steps_per_epoch} steps")


def _consistent(state: dict, epochs: int) -> bool:
    """A position this run reaches: epochs done within trainer.epochs, one history record each, a step
    only inside an unfinished epoch, the four running sums."""
    epoch, step = state["epoch"], state["step"]
    if not (isinstance(epoch, int) and isinstance(step, int) and 0 <= epoch <= epochs and step >= 0):
        return False
    return len(state["history"]) == epoch and (step == 0 or epoch < epochs) and len(state["sums"]) == 4


def _unresumable(run_dir: Path, what: str) -> ConfigError:
    return ConfigError(
        f"{run_dir / CHECKPOINT} holds {what}. It will not be resumed or overwritten: move it away to start "
        "this run afresh, or resume with the code version that wrote it."
    )


def _why_unreadable(exc: Exception) -> str:
    """One line: torch's own messages run over many (the weights-only refusal over ten)."""
    if isinstance(exc, pickle.UnpicklingError):
        return "it holds Python objects beyond tensors and plain values; loading them could run code"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text if len(text) <= 200 else text[:197] + '...'}"


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state but keep this process's `fused` choice: a checkpoint written on a CPU
    (unfused) must not leave a CUDA run unfused after a resume, nor a CUDA one ask for fused CPU SGD."""
    fused = [g.get("fused") for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, flag in zip(optimizer.param_groups, fused, strict=True):
        group["fused"] = flag


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
