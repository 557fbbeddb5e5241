"""Runs cases on a few workers in parallel, replacing a worker that crashed or hung."""

import threading

from .settings import WORKERS
from .worker import Worker


class Pool:
    """Idle workers, reused from one ``run`` to the next; ``stats`` collects each case's
    outcome and whether its result was compared with the reference."""

    def __init__(self, n=WORKERS):
        self.n = n
        self.idle = []
        self.lock = threading.Lock()
        self.started = 0
        self.stats = []

    def _get(self):
        with self.lock:
            if self.idle:
                return self.idle.pop()
        self.started += 1
        return Worker()

    def _put(self, w):
        with self.lock:
            self.idle.append(w)

    def run(self, cases):
        """[(case, verdict)] for every failing case."""
        results = [None] * len(cases)
        it = iter(range(len(cases)))
        lock = threading.Lock()

        def loop():
            w = None
            while True:
                with lock:
                    i = next(it, None)
                if i is None:
                    break
                if w is None:
                    w = self._get()
                v = w.run(cases[i])
                with lock:
                    self.stats += w.stats
                    w.stats = []
                if v is not None and v["kind"] in ("crash", "hang", "reference timeout"):
                    w = None
                    if v["kind"] != "reference timeout":   # does it fail on its own?
                        w2 = self._get()
                        v2 = w2.run(cases[i])
                        if v2 is None or v2["kind"] not in ("crash", "hang"):
                            v["detail"] += (" (not reproduced alone in a fresh worker; cases "
                                            "the worker ran: --replay "
                                            + ",".join(v.get("history", [])[-400:]) + ")")
                            v["sig"] = tuple(v["sig"]) + ("flaky",)
                            w = w2
                results[i] = v
            if w is not None:
                self._put(w)

        threads = [threading.Thread(target=loop) for _ in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [(cases[i], v) for i, v in enumerate(results) if v is not None]

    def close(self):
        for w in self.idle:
            w.close()
        self.idle = []
