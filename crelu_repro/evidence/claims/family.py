"""Holm's step-down adjustment within each claim's families, at 5%.

A claim's checks form two families: its counted checks (the runs, filters, units or images that decide
the claim) and its Vote checks (test-set uncertainty only: their own verdict). Within a family, each
check's `p_value` (the verdict's own test: two-sided at 0, or for not_worse twice the one-sided p at the
margin) is adjusted by Holm's method (`stats.holm`), which keeps the chance of any false reproduced or
contradicted verdict in the family at 5% whatever the checks' dependence. Checks without a p-value (not
run, no interval) are not tested and do not enlarge the family; checks that do not count and are not
Votes (reconstructions through max-pooling) get no Holm verdict.
"""

from __future__ import annotations

from ..stats import holm
from .checks import Check
from .spec import VOTE
from .verdict import combine, holm_verdict

COUNTED, VOTES = "counted", "vote"


def families(checks: list[Check]) -> dict[str, list[Check]]:
    """A claim's checks by family: its counted checks, and its Votes."""
    return {
        COUNTED: [c for c in checks if c.counts],
        VOTES: [c for c in checks if c.metric == VOTE and not c.counts],
    }


def adjust(checks: list[Check]) -> None:
    """Fill in each check's `holm` within its claim's family (`checks`: one claim's)."""
    for name, members in families(checks).items():
        adjusted = holm([c.p_value for c in members])
        size = sum(c.p_value is not None for c in members)
        for check, p in zip(members, adjusted, strict=True):
            check.holm = {
                "family": name,
                "size": size,
                "p_adjusted": p,
                "verdict": holm_verdict(check.verdict, p),
            }


def family_verdicts(checks: list[Check], family: str) -> tuple[str | None, str | None]:
    """(the raw verdict, the verdict after Holm) of a family of checks; (None, None) when it is empty."""
    members = families(checks)[family]
    if not members:
        return None, None
    return combine([c.verdict for c in members]), combine([c.holm["verdict"] for c in members])
