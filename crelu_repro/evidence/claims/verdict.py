"""Verdicts: pure functions from a difference (left - right, with its 95% interval) to one of four words.

- better (the default): reproduced when the interval excludes 0 on the paper's side, contradicted when it
  excludes 0 on the other side, inconclusive when it contains 0.
- not_worse ("each step not worse", "not necessarily beneficial", "well align"), the usual non-inferiority
  reading with a stated `margin`: reproduced when the whole interval lies above -margin on the paper's
  scale (at worst `margin` the wrong way), contradicted when it lies wholly beyond -margin (worse by more
  than `margin`), inconclusive when it straddles -margin.
- No interval (fewer than 2 values on a side, or zero spread): inconclusive, saying why.
- The same rules hold for every interval: over runs (paired or Welch), over test images (a Vote's Tango
  score or exact binomial interval: test-set uncertainty only), over filters, units or images (figures).
- Holm: within a claim's family, each check's `p_value` (the verdict's own test) adjusted by Holm's
  step-down method; `holm_verdict` keeps a decided verdict only where the adjusted p is at most 5%.
- Missing evidence: not run.
A claim combines its counting checks: contradicted if one is, reproduced if all are, not run if none has
evidence, inconclusive otherwise (also when no check counts).
"""

from __future__ import annotations

from ..stats import Difference

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "reproduced", "contradicted", "inconclusive", "not run"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_RUN)
ALPHA = 0.05  # every interval is 95%; Holm's family-wise level


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


def boundary(expect: str, kind: str = "better", margin: float = 0.0) -> float:
    """The left - right difference a check tests against: 0 (better), or `margin` the wrong way
    (not_worse)."""
    if kind == "better":
        return 0.0
    return margin if expect == "<" else -margin


def p_value(diff: Difference | None, expect: str, kind: str = "better", margin: float = 0.0) -> float | None:
    """The p-value behind the verdict: two-sided at the boundary, i.e. twice the one-sided p-value on the
    estimate's side. Below 5% exactly when the 95% interval excludes the boundary, so it is the verdict's
    own test (for not_worse: twice the one-sided non-inferiority p at the margin). None without an
    interval."""
    return None if diff is None else diff.p_value(boundary(expect, kind, margin))


def holm_verdict(raw: str, p_adjusted: float | None, alpha: float = ALPHA) -> str:
    """A check's verdict after Holm's adjustment: a reproduced or contradicted verdict stands only when
    its adjusted p-value is at most `alpha`; an adjusted p is never below the raw one, so Holm can only
    turn a decided verdict into inconclusive."""
    if raw not in (REPRODUCED, CONTRADICTED) or p_adjusted is None:
        return raw
    return raw if p_adjusted <= alpha else INCONCLUSIVE


def combine(verdicts: list[str]) -> str:
    """A claim's verdict from its counting checks' verdicts (every check must hold)."""
    if not verdicts:  # only checks that do not count (Votes, approximate reconstructions)
        return INCONCLUSIVE
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if all(v == NOT_RUN for v in verdicts):
        return NOT_RUN
    return INCONCLUSIVE
