"""The paper's claims as executable checks (`make claims`): each claim of the slides, its evidence in our
runs and figures, a verdict (reproduced, contradicted, inconclusive, not run) with the effect and its 95%
interval beside the paper's own difference.

- `spec`: the claims file (crelu_repro/evidence/paper/claims.yaml) loaded and validated
- `verdict`: the verdict rules, pure functions over a difference and its interval
- `checks`, `discussion`: evidence from the tables' sweeps and from the discussion figures' JSON
- `paired`: two rows' runs, paired by (seed, fold) where they can be, Welch beside
- `votes`: a Vote's interval over the test images (Tango's score, or binomial against a quoted number)
- `family`: Holm's adjustment within each claim's families (counted checks, Votes)
- `assess`: every claim's checks and its combined verdict, raw and after Holm, and its Votes' own verdict
- `render`, `plots`: claims.md / claims.json, the table figures, the forest plot, TensorBoard
"""

from .assess import Assessment, assess
from .checks import Check, Sweeps
from .discussion import Figures
from .spec import CLAIMS_YAML, Claim, ClaimsError, load_claims
from .verdict import CONTRADICTED, INCONCLUSIVE, NOT_RUN, REPRODUCED, VERDICTS, combine, verdict_of

__all__ = [
    "CLAIMS_YAML",
    "CONTRADICTED",
    "INCONCLUSIVE",
    "NOT_RUN",
    "REPRODUCED",
    "VERDICTS",
    "Assessment",
    "Check",
    "Claim",
    "ClaimsError",
    "Figures",
    "Sweeps",
    "assess",
    "combine",
    "load_claims",
    "verdict_of",
]
