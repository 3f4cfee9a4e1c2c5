"""``python -m decepticons``: the same command line as the ``decepticons`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
