"""Run settings of the fuzz test, from the environment, and the APIs it covers."""

import os

CASES = int(os.environ.get("CONVT_FUZZ_CASES", "500"))
SEED = int(os.environ.get("CONVT_FUZZ_SEED", "20250611"))
CALL_TIMEOUT = float(os.environ.get("CONVT_FUZZ_TIMEOUT", "20"))
HUGE_TIMEOUT_FACTOR = 6         # CALL_TIMEOUT times this for a case whose output may be huge
CHECK_TIMEOUT = 120.0          # the reference computation after a call
STARTUP_TIMEOUT = 120.0
WORKERS = int(os.environ.get("CONVT_FUZZ_WORKERS", "0")) or max(1, min(2, os.cpu_count() or 1))
WORKER_MEMORY = 3 << 30         # address space the worker may add (Linux RLIMIT_AS)

# Transposed: float functional, float layer, quantized functional, quantized layer; forward:
# float functional, float layer, quantized functional, quantized layer.  New APIs go at the end:
# the index of an API seeds its cases, so the others keep theirs.
APIS = ("f", "m", "qf", "qm", "cf", "cm", "cqf", "cqm")
