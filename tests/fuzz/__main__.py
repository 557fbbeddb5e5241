"""``python tests/fuzz --help``, or ``python -m fuzz --help`` in tests/: the command line."""

import os
import sys

if not __package__:
    # Run as ``python tests/fuzz``: this directory is sys.path[0], so the package is not
    # importable by name and its module names could shadow others.  Put tests/ there instead;
    # spawned workers get the same sys.path and import ``fuzz.worker`` from it.
    _HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    sys.path.insert(0, os.path.dirname(_HERE))

from fuzz.cli import main  # after the sys.path fix-up above

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
