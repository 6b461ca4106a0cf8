"""result.json: its declared schema, the one function that builds it, and the readers everyone uses.

The file stays flat (the field names are a contract: tables, analysis, summaries, outside checks), but each
field belongs to a group: what ran, its errors, the data it saw, timing, provenance. Timing and provenance
differ between two runs of the same computation (wall clock, paths, code version), so "the deterministic
part of a result" is everything else: `deterministic_part`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CreluError

RESULT = "result.json"
WHAT, ERRORS, DATA, TIMING, PROVENANCE = "what", "errors", "data", "timing", "provenance"


def _in(group: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    return field(default=default, default_factory=factory, metadata={"group": group})


@dataclass(kw_only=True)
class EpochRecord:
    """One line of `history`: what the trainer logs after each epoch (errors in %)."""

    epoch: int  # 1-based
    train_loss: float
    train_error_running: float  # on the augmented batches, during the epoch
    lr: float
    val_error: float | None = None
    test_error: float | None = None
    epoch_s: float = _in(TIMING, 0.0)
    images_per_s: float = _in(TIMING, 0.0)


@dataclass(kw_only=True)
class Result:
    """What a finished run reports. Errors are top-1 in % unless their name says top5."""

    model: str = _in(WHAT)  # the variant's name, or a label derived from its description (models.label)
    dataset: str = _in(WHAT)
    protocol: str = _in(WHAT)  # seeds | kfold
    seed: int = _in(WHAT)
    fold: int | None = _in(WHAT)  # the held-out fold under kfold, else None
    epochs: int = _in(WHAT)
    params: int = _in(WHAT)  # trainable parameters
    train_error: float = _in(ERRORS)  # a clean pass of the final model over the training split
    val_error: float | None = _in(ERRORS)  # the held-out fold (kfold), else None
    test_error: float = _in(ERRORS)  # single (center) crop
    test_error_top5: float | None = _in(ERRORS, None)  # ImageNet only
    test_error_10patch: float | None = _in(ERRORS, None)
    test_error_top5_10patch: float | None = _in(ERRORS, None)
    num_train: int = _in(DATA)
    num_val: int = _in(DATA)
    num_test: int = _in(DATA)
    unreadable_files: list[str] = _in(DATA, factory=list)  # skipped (ImageNet)
    dataset_warnings: list[str] = _in(DATA, factory=list)  # differences from the official release
    data_fingerprint: dict | None = _in(DATA, None)  # what the files were (not where): data.fingerprint
    history: list[EpochRecord] = _in(ERRORS, factory=list)  # one record per epoch
    wall_s: float = _in(TIMING)  # across resumes
    images_per_s: float = _in(TIMING)  # training, mean over epochs after the first
    device: str = _in(PROVENANCE)
    world_size: int = _in(PROVENANCE)
    torch: str = _in(PROVENANCE)
    code_version: str = _in(PROVENANCE)  # git describe --dirty
    finished: str = _in(PROVENANCE, "")  # ISO time the result was written
    identity: dict = _in(PROVENANCE, factory=dict)  # the config keys that define the result
    config: dict = _in(PROVENANCE, factory=dict)  # the whole resolved config

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: object, where: Path | str = RESULT) -> Result:
        """A Result from parsed JSON; a foreign or damaged object raises ResultError naming `where`."""
        if not isinstance(obj, dict):
            raise ResultError(f"{where} holds a JSON {type(obj).__name__}, not a result object")
        names = {f.name for f in dataclasses.fields(cls)}
        required = [f.name for f in dataclasses.fields(cls) if _required(f)]
        missing = [k for k in required if k not in obj]
        if missing:
            raise ResultError(f"{where} lacks the result field(s) {', '.join(missing)}")
        values = {k: v for k, v in obj.items() if k in names}  # fields of newer versions are ignored
        try:
            values["history"] = [EpochRecord(**h) for h in values.get("history", [])]
        except TypeError as exc:
            raise ResultError(f"{where} has a malformed history ({exc})") from None
        return cls(**values)


class ResultError(CreluError):
    """A result.json that this trainer did not write (or that was edited): refused, never overwritten."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"{problem}. It is not a result this trainer wrote, so it is neither trusted nor overwritten: "
            "move it away (or the whole run directory) and rerun."
        )


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def group_of(name: str, cls: type = Result) -> str:
    return next(f.metadata.get("group", "") for f in dataclasses.fields(cls) if f.name == name)


def deterministic_part(result: Result | dict) -> dict:
    """The fields that an identical computation reproduces: no timing, no provenance (plain JSON)."""
    plain = result.to_json() if isinstance(result, Result) else Result.from_json(result).to_json()
    drop = (TIMING, PROVENANCE)
    kept = {k: v for k, v in plain.items() if group_of(k) not in drop}
    kept["history"] = [
        {k: v for k, v in h.items() if group_of(k, EpochRecord) not in drop} for h in plain["history"]
    ]
    return kept


def make_result(cfg: Any, built: Any, state: Any, metrics: dict) -> Result:
    """The one builder of a Result: `cfg` the resolved config, `built` the run's Built (build.py), `state`
    its TrainState (trainer.py), `metrics` the final errors (trainer.final_metrics)."""
    import torch
    from omegaconf import OmegaConf

    from .config import choice, identity
    from .models import label, variant_of
    from .runio import code_version

    rt, loaders = built.rt, built.loaders
    steady = state.history[1:] or state.history  # the first epoch pays for compilation and warm-up
    kfold = choice(cfg.eval.protocol) == "kfold"
    return Result(
        model=label(variant_of(cfg.model)), dataset=cfg.dataset.name, protocol=choice(cfg.eval.protocol),
        seed=cfg.seed, fold=cfg.eval.fold if kfold else None, epochs=cfg.trainer.epochs, params=built.params,
        **metrics,
        num_train=len(loaders.train), num_val=len(loaders.val or ()), num_test=len(loaders.test),
        unreadable_files=loaders.unreadable(), dataset_warnings=built.splits.warnings,
        data_fingerprint=built.splits.fingerprint,
        history=[EpochRecord(**h) for h in state.history],
        wall_s=state.wall_s, images_per_s=sum(h["images_per_s"] for h in steady) / max(1, len(steady)),
        device=torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else "cpu",
        world_size=rt.dist.world, torch=torch.__version__, code_version=code_version(),
        finished=datetime.datetime.now().isoformat(timespec="seconds"), identity=identity(cfg),
        config=OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
    )  # fmt: skip


def write_result(run_dir: Path, result: Result) -> None:
    """Write result.json atomically: its presence means the run is complete."""
    from .runio import write_json

    write_json(Path(run_dir) / RESULT, result.to_json())


def read_result(run_dir: Path) -> Result | None:
    """The run's result, or None when it has none yet (result.json is written last, atomically)."""
    path = Path(run_dir) / RESULT
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ResultError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultError(f"{path} is not valid JSON ({exc})") from None
    return Result.from_json(obj, path)


def results_under(root: Path) -> Iterator[tuple[Path, Result | ResultError]]:
    """(run dir, result) for every result.json under `root`, in path order; a malformed one is yielded as
    its ResultError so that a listing can name it instead of failing or silently dropping it."""
    for path in sorted(Path(root).rglob(RESULT)):
        try:
            result = read_result(path.parent)
        except ResultError as exc:
            yield path.parent, exc
            continue
        if result is not None:
            yield path.parent, result
