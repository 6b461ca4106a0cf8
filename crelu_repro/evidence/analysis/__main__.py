"""`python -m crelu_repro.evidence.analysis <figure> RUN_DIR [RUN_DIR...]`: see cli.py."""

import sys

from .cli import main

sys.exit(main())
