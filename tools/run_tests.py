"""Run the test suite against the installed convt once per ISA tier this CPU can run.

Used by cibuildwheel's test-command (any OS, no shell syntax needed), .ci/run and
tools/check_wheel.sh; usable by hand:
    python tools/run_tests.py [extra pytest args]
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")


def available_tiers():
    """Names of the tiers of the installed build this CPU can run, best first."""
    code = ("from convt import _engine; "
            "print(' '.join(t['name'] for t in _engine.tiers() if t['available']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.expanduser("~"))
    return out.stdout.split()


def main(argv):
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TESTS, *argv]
    for tier in available_tiers():
        env = dict(os.environ, CONVT_ISA=tier)
        print(f"== tests with CONVT_ISA={tier}", flush=True)
        # run from outside the source tree so the installed package is what gets imported
        rc = subprocess.call(base, env=env, cwd=os.path.expanduser("~"))
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
