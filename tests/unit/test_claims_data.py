"""claims.yaml covers every claim of the slides' results and discussion pages, in their own words; a broken
claims file is one clear message."""

from __future__ import annotations

import re

import pytest

from crelu_repro.evidence.claims import load_claims
from tests.helpers import REPO

SLIDES = REPO.parent / "shared" / "paper" / "crelu_slides.txt"
# Every claim sentence of the results and discussion slides (and the pairing premise they rest on).
CLAIM_SENTENCES = [
    "CReLU models outperform the ReLU and AVR models.",
    "CReLU with reduced model capacity still outperforms the baseline ReLU model.",
    "Replacing ReLU into CReLU gradually from lower layers to higher layers improves the performance.",
    "Achieved lower error rates to other state-of-the-art.",
    "CReLU improves the classification accuracy.",
    "Going deeper with CReLU isn't necessarily beneficial.",
    "CReLU model achieves highly competitive results while leveraging a small number of model parameters.",
    "Pairing filters of AlexNet are highly negatively-correlated.",
    "Histograms of CReLU model well align with the distributions of random Gaussian filters.",
    "CReLU model shows higher train error even though it contains more trainable parameters.",
    "CReLU models show higher invariance score than ReLU models.",
    "Invariance score gives an idea where to place CReLU.",
    "CReLU model can be inverted for reconstruction",
]


def _plain(text: str) -> str:
    return re.sub(r"[*_]", "", text).strip()


def test_every_claim_sentence_has_a_checked_entry():
    claims, _ = load_claims()
    quotes = {c.quote for c in claims}
    assert [s for s in CLAIM_SENTENCES if s not in quotes] == []
    assert all(c.evidence for c in claims)


@pytest.mark.skipif(not SLIDES.exists(), reason="the slides (../shared/paper) are not beside this checkout")
def test_every_bullet_of_the_results_and_discussion_slides_is_checked_or_says_why_not():
    text = SLIDES.read_text()
    slides = re.split(r"^# ", text, flags=re.MULTILINE)  # each starts with its title
    pages = [s for s in slides if s.startswith(("Results on", "Pairing Disappears", "Discussion"))]
    assert len(pages) == 12  # 5 results slides, 1 on pairing, 6 discussion slides
    bullets = {_plain(line[2:]) for page in pages for line in page.splitlines() if line.startswith("- ")}
    bullets = {b for b in bullets if not re.match(r"\d: ", b)}  # the reconstruction algorithm's steps
    claims, unchecked = load_claims()
    entries = {c.quote for c in claims} | {n.quote for n in unchecked}
    assert sorted(bullets - entries) == []
    assert all(n.why.strip() for n in unchecked)
    plain_slides = _plain(text)
    assert [q for q in entries if q not in plain_slides] == []  # the slide's own words
