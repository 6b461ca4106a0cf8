"""`python -m crelu_repro.params [--json] [--write DIR]`: a command that DESIGN.md fixes, kept at this
address. The parameter table itself is evidence (crelu_repro/evidence/params.py)."""

from ..evidence.params import main, param_rows

__all__ = ["main", "param_rows"]
