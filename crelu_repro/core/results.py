"""result.json: its declared schema, its writer and the readers everyone uses (trainer.make_result builds it).

The file stays flat (the field names are a contract: tables, analysis, summaries, outside checks), but each
field belongs to a group: what ran, its errors, the data it saw, timing, provenance. Timing and provenance
differ between two runs of the same computation (wall clock, paths, code version), so "the deterministic
part of a result" is everything else: `deterministic_part`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import files
from .errors import CreluError
from .files import write_json

RESULT = "result.json"
WHAT, ERRORS, DATA, TIMING, PROVENANCE = "what", "errors", "data", "timing", "provenance"


def _in(
    group: str,
    default: Any = dataclasses.MISSING,
    factory: Any = dataclasses.MISSING,
    check: Check | None = None,
) -> Any:
    return field(default=default, default_factory=factory, metadata={"group": group, "check": check})


@dataclass(frozen=True)
class Check:
    """What a field's value must be when result.json is read: `ok(value)`, described for the message."""

    what: str
    ok: Callable[[Any], bool]
    optional: bool = False  # null allowed


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


PERCENT = Check("a finite number in [0, 100]", lambda v: _number(v) and 0 <= v <= 100)
MAYBE_PERCENT = dataclasses.replace(PERCENT, optional=True)
NON_NEGATIVE = Check("a finite number >= 0", lambda v: _number(v) and v >= 0)
FINITE = Check("a finite number", _number)
TEXT = Check("a string", lambda v: isinstance(v, str))
NAME = Check("a non-empty string", lambda v: isinstance(v, str) and bool(v))
MAPPING = Check("a JSON object", lambda v: isinstance(v, dict))
LIST = Check("a list", lambda v: isinstance(v, list))
TEXTS = Check("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))


def at_least(low: int, optional: bool = False) -> Check:
    return Check(f"an integer >= {low}", lambda v: _int(v) and v >= low, optional)


@dataclass(kw_only=True)
class EpochRecord:
    """One line of `history`: what the trainer logs after each epoch (errors in %)."""

    epoch: int = _in(ERRORS, check=at_least(1))  # 1-based
    train_loss: float = _in(ERRORS, check=FINITE)
    train_error_running: float = _in(ERRORS, check=PERCENT)  # on the augmented batches, during the epoch
    lr: float = _in(ERRORS, check=NON_NEGATIVE)
    val_error: float | None = _in(ERRORS, None, check=MAYBE_PERCENT)
    test_error: float | None = _in(ERRORS, None, check=MAYBE_PERCENT)
    epoch_s: float = _in(TIMING, 0.0, check=NON_NEGATIVE)
    images_per_s: float = _in(TIMING, 0.0, check=NON_NEGATIVE)


@dataclass(kw_only=True)
class Result:
    """What a finished run reports. Errors are top-1 in % unless their name says top5."""

    model: str = _in(WHAT, check=NAME)  # the variant's name, or a label of its description (models.label)
    dataset: str = _in(WHAT, check=NAME)
    protocol: str = _in(WHAT, check=Check("seeds or kfold", lambda v: v in ("seeds", "kfold")))
    seed: int = _in(WHAT, check=at_least(0))
    fold: int | None = _in(WHAT, check=at_least(0, optional=True))  # the held-out fold under kfold, else None
    epochs: int = _in(WHAT, check=at_least(1))
    params: int = _in(WHAT, check=at_least(1))  # trainable parameters
    train_error: float = _in(ERRORS, check=PERCENT)  # a clean pass of the final model over the training split
    val_error: float | None = _in(ERRORS, check=MAYBE_PERCENT)  # the held-out fold (kfold), else None
    test_error: float = _in(ERRORS, check=PERCENT)  # single (center) crop
    test_error_top5: float | None = _in(ERRORS, None, check=MAYBE_PERCENT)  # ImageNet only
    test_error_10patch: float | None = _in(ERRORS, None, check=MAYBE_PERCENT)
    test_error_top5_10patch: float | None = _in(ERRORS, None, check=MAYBE_PERCENT)
    num_train: int = _in(DATA, check=at_least(1))
    num_val: int = _in(DATA, check=at_least(0))
    num_test: int = _in(DATA, check=at_least(1))
    unreadable_files: list[str] = _in(DATA, factory=list, check=TEXTS)  # skipped (ImageNet)
    dataset_warnings: list[str] = _in(DATA, factory=list, check=TEXTS)  # differences from the release
    data_fingerprint: dict | None = _in(DATA, None, check=dataclasses.replace(MAPPING, optional=True))
    history: list[EpochRecord] = _in(ERRORS, factory=list, check=LIST)  # one record per epoch
    wall_s: float = _in(TIMING, check=NON_NEGATIVE)  # across resumes
    images_per_s: float = _in(TIMING, check=NON_NEGATIVE)  # training, mean over epochs after the first
    device: str = _in(PROVENANCE, check=TEXT)
    world_size: int = _in(PROVENANCE, check=at_least(1))
    torch: str = _in(PROVENANCE, check=TEXT)
    code_version: str = _in(PROVENANCE, check=TEXT)  # git describe --dirty
    finished: str = _in(PROVENANCE, "", check=TEXT)  # ISO time the result was written
    identity: dict = _in(PROVENANCE, factory=dict, check=MAPPING)  # the config keys that define the result
    config: dict = _in(PROVENANCE, factory=dict, check=MAPPING)  # the whole resolved config

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: object, where: Path | str = RESULT) -> Result:
        """A Result from parsed JSON, every field checked against its declared type and range; a foreign
        or damaged object raises ResultError naming `where` and the first bad field."""
        values = _checked(cls, obj, where, "")
        history = values.get("history", [])
        values["history"] = [
            EpochRecord(**_checked(EpochRecord, h, where, f"history[{i}].")) for i, h in enumerate(history)
        ]
        return cls(**values)


def _checked(cls: type, obj: object, where: Path | str, prefix: str) -> dict:
    """The fields of `cls` found in `obj`, each its declared kind (fields of newer versions are ignored)."""
    if not isinstance(obj, dict):
        what = f"{prefix.rstrip('.')} is" if prefix else "holds"
        raise ResultError(f"{where} {what} a JSON {type(obj).__name__}, not a result object")
    fields = dataclasses.fields(cls)
    missing = [f.name for f in fields if _required(f) and f.name not in obj]
    if missing:
        raise ResultError(f"{where} lacks the result field(s) {', '.join(prefix + m for m in missing)}")
    for f in fields:
        check: Check | None = f.metadata.get("check")
        if (
            f.name in obj
            and check
            and not (obj[f.name] is None and check.optional)
            and not check.ok(obj[f.name])
        ):
            shown = json.dumps(obj[f.name])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            null = " or null" if check.optional else ""
            raise ResultError(f"{where} has {prefix}{f.name} = {shown}: it must be {check.what}{null}")
    return {f.name: obj[f.name] for f in fields if f.name in obj}


# The test errors by (k of top-k, 10-patch or center crop): the Result fields above that hold them, so the
# evaluation that measures them (evaluate.evaluate_ten_patch) writes exactly these fields.
TEST_ERRORS = {
    (1, False): "test_error", (5, False): "test_error_top5",
    (1, True): "test_error_10patch", (5, True): "test_error_top5_10patch",
}  # fmt: skip
assert set(TEST_ERRORS.values()) <= {f.name for f in dataclasses.fields(Result)}


class ResultError(CreluError):
    """A result.json that this trainer did not write (or that was edited): refused, never overwritten."""

    def __init__(self, problem: str) -> None:
        self.problem = problem  # the short form: what is wrong with the file (listings use it)
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


def write_result(run_dir: Path, result: Result) -> None:
    """Write result.json atomically: its presence means the run is complete."""
    write_json(Path(run_dir) / RESULT, result.to_json())


def read_result(run_dir: Path) -> Result | None:
    """The run's result, or None when it has none yet (result.json is written last, atomically)."""
    path = Path(run_dir) / RESULT
    try:
        obj = files.load_json(path)
    except FileNotFoundError:
        return None
    except files.JsonFileError as exc:  # unreadable, a link, too large or too deep, not JSON
        raise ResultError(f"{path} {exc}") from None
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
