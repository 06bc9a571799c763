"""``python -m jinit`` runs the ``jinit`` command line."""

import sys

from jinit._src.cli.entry import main

sys.exit(main())
