"""Tables: a table is its experiment file, and exactly its planned runs count.

spec      the `table:` node of configs/experiment/<table>.yaml, checked (TableSpec, table_names)
plan      Table: the experiment composed with the sweep's overrides, enumerated into PlannedRuns
          (row, dataset, seed, fold, directory, identity)
evidence  collect(table) -> Evidence: each planned run's Result if it counts (else why not), the failed
          runs, and every other result found under the sweep folder as `not_counted` with its reason
scores    a counted run's test scores and labels, read through their schema (for the Vote)
rows      build_rows(evidence): Average ± std, Vote, the paper's numbers, Welch intervals
render    results/<table>.md and .json, written atomically
cli       python -m crelu_repro.evidence.tables <table> [--sweep-dir DIR] [--out DIR] [--quick] [-- OVERRIDES]
"""

from .cli import main
from .evidence import NOT_RUN, Evidence, NotCounted, RunRecord, collect
from .planned import PlannedRun, Table
from .rows import build_rows, vote_of, vote_predictions
from .scores import ScoresError, load_scores
from .spec import Metric, TableError, TableSpec, table_names

__all__ = [
    "NOT_RUN", "Evidence", "Metric", "NotCounted", "PlannedRun", "RunRecord", "ScoresError", "Table",
    "TableError", "TableSpec", "build_rows", "collect", "load_scores", "main", "table_names", "vote_of",
    "vote_predictions",
]  # fmt: skip
