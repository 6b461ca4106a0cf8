"""The paper's claims as executable checks (`make claims`): each claim of the slides, its evidence in our
runs and figures, a verdict (reproduced, contradicted, inconclusive, not run) with the effect and its 95%
interval beside the paper's own difference.

- `spec`: the claims file (crelu_repro/paper/claims.yaml) loaded and validated
- `verdict`: the verdict rules, pure functions over a difference and its interval
- `checks`, `discussion`: evidence from the tables' sweeps and from the discussion figures' JSON
- `assess`: every claim's checks and its combined verdict
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
