"""The paper's discussion-section analyses of trained runs: pairing filters, invariance, reconstruction.

`python -m crelu_repro.evidence.analysis pairing|invariance|reconstruction|all RUN_DIR [RUN_DIR...] [--out
DIR]` writes `<figure>.png` and `<figure>.json` under DIR (default results/figures) and adds the figure to
each run's TensorBoard. Each analysis is also a function on tensors, for use on any model.
"""

from .invariance import DEFAULT_TRANSFORMS, Transform, apply_transform, invariance_scores
from .pairing import gaussian_estimate, gaussian_mu, pairing_mu, partner_cosines
from .reconstruction import NotInvertible, conv_lstsq, invert_block, reconstruct, revert_activation
from .runs import Run, eval_images, load_run

__all__ = [
    "DEFAULT_TRANSFORMS",
    "NotInvertible",
    "Run",
    "Transform",
    "apply_transform",
    "conv_lstsq",
    "eval_images",
    "gaussian_estimate",
    "gaussian_mu",
    "invariance_scores",
    "invert_block",
    "load_run",
    "pairing_mu",
    "partner_cosines",
    "reconstruct",
    "revert_activation",
]
