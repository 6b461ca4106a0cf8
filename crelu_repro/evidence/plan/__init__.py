"""`make plan`: before a GPU budget is spent, what each table and each claim costs.

cost      per table: planned runs, their shape from the config and the official image counts, and their
          device-hours on the chosen card and here, from read figures (nothing is built or measured)
figures   a step's time on the card: results/benchmarks.json's row, else an estimate from MACs
probes    this machine's probes of the trainer's own step (--probe), stored in results/probes.json
sizes     per claim: the fewest runs a side for 80% power at 5% to detect the paper's own difference,
          and their device-hours
render    results/plan.md and plan.json
cli       python -m crelu_repro.evidence.plan [--table T] [--quick] [--probe] [-- OVERRIDES]
"""

from .cli import main

__all__ = ["main"]
