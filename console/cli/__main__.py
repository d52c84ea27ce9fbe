"""``python -m console.cli`` runs the ``moe-console`` command line."""

import sys

from console.cli import main

sys.exit(main())
