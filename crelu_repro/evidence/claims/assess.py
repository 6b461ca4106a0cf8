"""Every claim's checks and its combined verdict, overall and per dataset, raw and after Holm's
adjustment; the Votes' own verdict beside it."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import Check, Sweeps, param_ratios, table_checks
from .discussion import Figures, figure_checks, suggested_rows
from .family import COUNTED, VOTES, adjust, family_verdicts
from .spec import PLACEMENT, Claim
from .verdict import combine


@dataclass
class Assessment:
    claim: Claim
    checks: list[Check]
    verdict: str  # over the counting checks of every dataset
    by_dataset: dict[str, str]  # dataset (or figure set) -> verdict over its counting checks
    params: list[str]  # parameter ratios, where the claim names them
    holm: str = ""  # the verdict over the counting checks after Holm's adjustment
    vote: str | None = None  # the Votes' own verdict (test set only), None without Vote checks
    vote_holm: str | None = None  # the Votes' verdict after Holm's adjustment


def assess(claims: list[Claim], sweeps: Sweeps, figures: Figures) -> list[Assessment]:
    out = []
    for claim in claims:
        checks: list[Check] = []
        for group in claim.evidence:
            if group.is_figure:
                checks += figure_checks(claim, group, figures)
            else:
                suggested = suggested_rows(group, figures) if group.source == PLACEMENT else None
                checks += table_checks(claim, group, sweeps, suggested)
        verdict = _combined(checks)
        for check in checks:
            check.claim_verdict = verdict
        datasets = dict.fromkeys(c.dataset for c in checks)
        by_dataset = {d: _combined([c for c in checks if c.dataset == d]) for d in datasets}
        adjust(checks)
        holm = family_verdicts(checks, COUNTED)[1] or verdict  # no counted check: the raw (inconclusive)
        vote, vote_holm = family_verdicts(checks, VOTES)
        out.append(Assessment(claim, checks, verdict, by_dataset, param_ratios(claim), holm, vote, vote_holm))
    return out


def _combined(checks: list[Check]) -> str:
    return combine([c.verdict for c in checks if c.counts])
