"""Run the test suite against the installed convt twice: default kernels, then portable.

Used by cibuildwheel's test-command (any OS, no shell syntax needed) and usable by hand:
    python tools/run_tests.py [extra pytest args]
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")


def main(argv):
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TESTS, *argv]
    for isa in ("auto", "portable"):
        env = dict(os.environ, CONVT_ISA=isa)
        print(f"== tests with CONVT_ISA={isa}", flush=True)
        # run from outside the source tree so the installed package is what gets imported
        rc = subprocess.call(base, env=env, cwd=os.path.expanduser("~"))
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
