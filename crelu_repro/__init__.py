"""crelu-repro: reproduce and extend Shang et al., "Understanding and Improving CNNs via
Concatenated Rectified Linear Units" (ICML 2016).

The package's folders are the pipeline's stages, each importing only the ones before it:
core -> models -> data -> run -> train -> evidence (README.md, "Stages").
"""

__version__ = "0.1.0"

_API = {"vote": "crelu_repro.data.evaluate", "ten_patch_scores": "crelu_repro.data.evaluate"}


def __getattr__(name: str) -> object:
    """`from crelu_repro import vote, ten_patch_scores` (DESIGN.md's API) without importing torch for
    `import crelu_repro` alone: each name is read from its home when first asked for."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'crelu_repro' has no attribute {name!r}")
