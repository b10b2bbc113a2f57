"""Entry point for `python -m fmnist_core`."""

import sys

from fmnist_core.cli.commands import main

sys.exit(main())
