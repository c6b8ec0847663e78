"""``python -m model <verb> ...``: the same command line as the ``vsdmot`` console script."""

import sys

from model.cli import main

sys.exit(main())
