"""Verdicts: pure functions from a difference (left - right, with its 95% interval) to one of four words.

- better (the default): reproduced when the interval excludes 0 on the paper's side, contradicted when it
  excludes 0 on the other side, inconclusive when it contains 0.
- not_worse ("each step not worse", "not necessarily beneficial", "well align"), the usual non-inferiority
  reading with a stated `margin`: reproduced when the whole interval lies above -margin on the paper's
  scale (at worst `margin` the wrong way), contradicted when it lies wholly beyond -margin (worse by more
  than `margin`), inconclusive when it straddles -margin.
- No interval (fewer than 2 values on a side, or zero spread): inconclusive, saying why. Vote is one number
  per row: its direction is reported, and the verdict is always inconclusive.
- Missing evidence: not run.
A claim combines its counting checks: contradicted if one is, reproduced if all are, not run if none has
evidence, inconclusive otherwise (also when no check counts).
"""

from __future__ import annotations

from ..stats import Difference

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "reproduced", "contradicted", "inconclusive", "not run"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN)


def _toward_paper(x: float, expect: str) -> float:
    """x (a left - right difference) signed so that positive is the paper's direction."""
    return -x if expect == "<" else x


def verdict_of(
    diff: Difference | None, expect: str, kind: str = "better", margin: float = 0.0
) -> tuple[str, str]:
    """(verdict, why) for diff = left - right against the paper's direction `expect` ("<" or ">")."""
    if diff is None:
        return NOT_RUN, "no values on a side"
    if diff.low is None:
        return INCONCLUSIVE, f"no interval: {diff.why_no_interval}"
    low, high = sorted((_toward_paper(diff.low, expect), _toward_paper(diff.high, expect)))
    if kind == "better":
        if low > 0:
            return REPRODUCED, "the 95% interval excludes 0 on the paper's side"
        if high < 0:
            return CONTRADICTED, "the 95% interval excludes 0 on the other side"
        return INCONCLUSIVE, "the 95% interval contains 0"
    if low > -margin:
        return REPRODUCED, f"the 95% interval is at worst {margin:g} the wrong way"
    if high < -margin:
        return CONTRADICTED, f"the whole 95% interval is more than {margin:g} the wrong way"
    return INCONCLUSIVE, f"the 95% interval reaches past {margin:g} the wrong way"


def vote_verdict(left: float | None, right: float | None, expect: str) -> tuple[str, str]:
    """Vote: one number per row, so a direction and never a verdict."""
    if left is None or right is None:
        return NOT_RUN, "no Vote on a side"
    toward = _toward_paper(left - right, expect)
    direction = "the paper's direction" if toward > 0 else "equal" if toward == 0 else "against the paper"
    return INCONCLUSIVE, f"Vote is one number per row: direction only ({direction})"


def combine(verdicts: list[str]) -> str:
    """A claim's verdict from its counting checks' verdicts (every check must hold)."""
    if not verdicts:  # only checks that do not count (a Vote alone, approximate reconstructions)
        return INCONCLUSIVE
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if all(v == NOT_RUN for v in verdicts):
        return NOT_RUN
    return INCONCLUSIVE
