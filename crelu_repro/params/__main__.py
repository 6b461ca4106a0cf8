import sys

from ..evidence.params import main

sys.exit(main())
