"""`make plan`: before a GPU budget is spent, what each table and each claim costs.

cost      per table: planned runs, device-hours from a probe of the trainer's own step on this machine,
          and the reference H200's where results/benchmarks.json measured it
sizes     per claim: the fewest runs a side for 80% power at 5% to detect the paper's own difference,
          and their device-hours
render    results/plan.md and plan.json
cli       python -m crelu_repro.evidence.plan [--table T] [--quick] [--steps N] [-- OVERRIDES]
"""

from .cli import main

__all__ = ["main"]
