"""How many OpenMP threads a block's in-memory call may use (``num_threads=None``).

The rule, documented in :mod:`convt.dask`: never more OpenMP threads on a host than it has
cores, counting every dask thread that may run a block at the same time.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from typing import Any

# dask threads of all the distributed workers on a worker's host, by worker address: asked of
# the scheduler once per worker (workers joining later are not counted)
_host_threads: dict[str, int] = {}


def host_cores() -> int:
    """The cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


def task_threads(requested: int | None) -> int | None:
    """The ``num_threads`` for a block's call: ``requested`` when given; in a
    ``dask.distributed`` worker, the host's cores shared among the dask threads of the
    workers on it; 1 in any other thread than the main one (the local threaded scheduler's
    pool runs one task per core already) or in a child process (the multiprocessing
    scheduler: one process per core); None, all cores (OpenMP's default), in the main thread
    of a main process (the synchronous scheduler)."""
    if requested is not None:
        return requested
    worker = _distributed_worker()
    if worker is not None:
        return max(1, host_cores() // _dask_threads_on_host(worker))
    if (threading.current_thread() is not threading.main_thread()
            or multiprocessing.parent_process() is not None):
        return 1
    return None


def _distributed_worker() -> Any:
    """The distributed Worker running this task, or None (distributed is not imported for
    this: a worker has imported it already)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker
    try:
        return get_worker()
    except ValueError:  # not in a worker's task
        return None


def _dask_threads_on_host(worker: Any) -> int:
    """The dask threads of every worker on ``worker``'s host (the scheduler knows them all),
    cached per worker; this worker's own when the scheduler cannot be asked."""
    count = _host_threads.get(worker.address)
    if count is None:
        count = _ask_scheduler(worker) or int(worker.state.nthreads)
        _host_threads[worker.address] = count
    return count


def _ask_scheduler(worker: Any) -> int | None:
    from distributed.comm.addressing import get_address_host
    from distributed.utils import sync
    try:
        info = sync(worker.loop, worker.scheduler.identity, callback_timeout=10)
    except Exception:  # any failure: fall back to this worker's threads
        return None
    host = get_address_host(worker.address)
    return sum(int(w["nthreads"]) for addr, w in info.get("workers", {}).items()
               if get_address_host(addr) == host) or None
