"""``python -m sim2real``: the ``sim2real`` command (:func:`sim2real.cli.main`)."""

import sys

from sim2real.cli import main

if __name__ == "__main__":
    sys.exit(main())
