"""``python -m decepticons``: the same command line as the ``decepticons`` script."""

import sys

from .cli import main

sys.exit(main())
