"""Seeded draws of one case: a small valid problem, then mutations of its arguments."""

import math

import numpy as np

from .edges import FLOAT_DTYPES_BAD, FLOAT_DTYPES_OK, INT_EDGES, LAYOUTS, SPECIALS, junk
from .rules import MAXP, out_spatial
from .settings import APIS, SEED
from .values import A_, QMark, V, array_from_recipe


class CaseGenerator:
    """The random stream of case ``index`` of one API and rank, and the tags (mutations drawn)
    that label the case in reports."""

    def __init__(self, api, nd, index):
        self.api, self.nd = api, nd
        self.rng = np.random.default_rng([SEED, APIS.index(api), nd, index])
        self.tags = []

    # -- small helpers ---------------------------------------------------------------------
    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def coin(self, p):
        return self.rng.random() < p

    def seed(self):
        return int(self.rng.integers(1 << 30))

    def form(self, t):
        """A valid rendering of an n-tuple of ints: int, tuple, list or numpy ints."""
        r = self.rng.random()
        if len(set(t)) == 1 and r < 0.5:
            return t[0] if self.rng.random() < 0.8 else np.int64(t[0])
        if r < 0.85:
            return tuple(t)
        return [int(v) for v in t] if self.rng.random() < 0.5 else tuple(np.int32(v) for v in t)

    # -- the valid base problem ------------------------------------------------------------
    def base(self):
        nd, rng = self.nd, self.rng
        g = self.pick([1, 1, 1, 2, 3])
        cig, cog = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        kmax, imax = (4, 6) if nd < 3 else (3, 4)
        k = [int(rng.integers(1, kmax)) for _ in range(nd)]
        s = [int(rng.integers(1, 4)) for _ in range(nd)]
        d = [int(rng.integers(1, 3)) for _ in range(nd)]
        isp = [int(rng.integers(1, imax)) for _ in range(nd)]
        p = [int(rng.integers(0, 3)) for _ in range(nd)]
        op = [int(rng.integers(0, max(a, b))) for a, b in zip(s, d)]
        n = self.pick([None, 1, 1, 2])
        if self.coin(0.15):    # big enough for the GEMM kernels and several threads
            g = self.pick([1, 1, 2, 4])
            cig, cog = int(rng.integers(4, 49)), int(rng.integers(3, 49))
            lo, hi = {1: (8, 65), 2: (4, 13), 3: (3, 7)}[nd]
            isp = [int(rng.integers(lo, hi)) for _ in range(nd)]
            n = self.pick([None, 1, 2, 3])
            self.tags.append("larger problem")
        c = {"g": g, "cig": cig, "cog": cog, "k": k, "s": s, "d": d, "isp": isp, "p": p,
             "op": op, "n": n, "bias": self.coin(0.7)}
        r = rng.random()
        if r < 0.03:
            c["n"] = 0
            self.tags.append("batch=0")
        elif r < 0.06 and self.api in ("f", "qf"):
            c["g"], c["cig"] = 1, 0
            self.tags.append("channels=0")
        elif r < 0.12:
            self.big_cancel(c)
        elif r < 0.15 and c["cig"]:
            c.update(k=[1] * nd, s=[1] * nd, d=[1] * nd, p=[0] * nd, op=[0] * nd,
                     cog=c["cig"], out_is_input=True)
            self.tags.append("out=input")
        for a in range(nd):  # keep every output size positive
            while out_spatial([c["isp"][a]], [c["k"][a]], [c["s"][a]], [c["p"][a]],
                              [c["d"][a]], [c["op"][a]])[0] <= 0:
                c["p"][a] -= 1
        c["cin"], c["cout"] = c["g"] * c["cig"], c["g"] * c["cog"]
        return c

    def big_cancel(self, c):
        """Valid, small outputs from hyper-parameters near 2**31 whose terms cancel."""
        a = int(self.rng.integers(self.nd))
        big = self.pick([MAXP, MAXP - 1, 2**30 + 7, 2**31 - 3])
        t = int(self.rng.integers(1, 5))
        ops = [0, 1, 2, big - 1, big // 2]
        if self.coin(0.5):     # huge dilation, padding eating it
            c["d"][a], c["k"][a], c["s"][a] = big, 2, 1
            c["op"][a] = self.pick(ops)
            i = c["isp"][a]
            c["p"][a] = max(0, (i - 1 + big + c["op"][a] + 1 - t) // 2)
            self.tags.append("huge dilation cancelled by padding")
        else:                  # huge stride
            c["s"][a], c["d"][a] = big, 1
            c["isp"][a] = 2
            c["op"][a] = self.pick(ops)
            k = c["k"][a]
            c["p"][a] = max(0, (big + k - 1 + c["op"][a] + 1 - t) // 2)
            self.tags.append("huge stride cancelled by padding")
        if c["p"][a] > MAXP:   # keep the padding within its bound: less output_padding
            excess = 2 * (c["p"][a] - MAXP)
            c["op"][a] -= excess
            c["p"][a] = MAXP

    # -- arrays ----------------------------------------------------------------------------
    def float_spec(self, shape, dtype="float32"):
        return ("normal", tuple(shape), dtype, self.seed(), "c", None)

    def mutate_array(self, spec, role, kind="float"):
        """A different array (or non-array) in place of ``spec``: (source, object)."""
        k0, shape, dtype, seed, layout, special = spec
        shape = tuple(shape)
        r = self.rng.random()
        ok_dtypes = FLOAT_DTYPES_OK if kind == "float" else []
        bad_dtypes = FLOAT_DTYPES_BAD if kind == "float" else \
            ["int8" if kind == "u8" else "uint8", "int16", "float32", "bool", "int64"]
        if r < 0.16:
            dt = self.pick(ok_dtypes + bad_dtypes) if ok_dtypes else self.pick(bad_dtypes)
            self.tags.append(f"{role}:dtype={dt}")
            return A_((k0, shape, dt, seed, layout, special))
        if r < 0.36:
            lay = self.pick(LAYOUTS)
            self.tags.append(f"{role}:layout={lay}")
            return A_((k0, shape, dtype, seed, lay, special))
        if r < 0.48 and kind == "float":
            sp = self.pick(SPECIALS + ["huge"])
            dt = "float64" if sp == "huge" else dtype
            self.tags.append(f"{role}:values={sp}")
            return A_((k0, shape, dt, seed, layout, sp))
        if r < 0.72:
            what = self.pick(["drop", "add1", "add2", "zero", "grow", "shrink", "scalar",
                              "empty"])
            s2 = list(shape)
            if what == "drop" and s2:
                s2.pop(int(self.rng.integers(len(s2))))
            elif what == "add1":
                s2.insert(int(self.rng.integers(len(s2) + 1)), 1)
            elif what == "add2":
                s2.insert(0, 2)
            elif what == "zero" and s2:
                s2[int(self.rng.integers(len(s2)))] = 0
            elif what in ("grow", "shrink") and s2:
                j = int(self.rng.integers(min(2, len(s2))))
                s2[j] = max(0, s2[j] + (1 if what == "grow" else -1))
            elif what == "scalar":
                s2 = []
            elif what == "empty":
                s2 = [0] * max(1, len(s2))
            self.tags.append(f"{role}:shape {what}")
            return A_((k0, tuple(s2), dtype, seed, layout, special))
        what = self.pick(["list", "intlist", "ragged", "str", "none", "float", "qtensor",
                          "bytes", "dict"])
        self.tags.append(f"{role}:{what}")
        if what == "list":
            return A_((k0, shape, "float64" if kind == "float" else dtype, seed, "c",
                       special), tolist=True)
        if what == "intlist":
            return A_(("small", shape, "int64", seed, "c", None), tolist=True)
        if what == "ragged":
            return V([[1.0, 2.0], [3.0]])
        if what == "str":
            return V("abc")
        if what == "none":
            return V(None)
        if what == "float":
            return V(1.0)
        if what == "bytes":
            return V(b"\x00\x01")
        if what == "dict":
            return V({})
        q = ("u8", shape, "uint8", seed, "c", None)
        return (f"convt.QTensor(_arr({q!r}), 0.1, 0)",
                QMark("qtensor", array_from_recipe(q), 0.1, 0, None))

    # -- hyper-parameters ------------------------------------------------------------------
    def mutate_hyper(self, name, valid):
        r = self.rng.random()
        nd = self.nd
        if r < 0.45:
            v = self.pick(INT_EDGES)
            if name != "groups" and self.coin(0.4):
                t = list(valid)
                t[int(self.rng.integers(nd))] = v
                v = tuple(t)
            self.tags.append(f"{name}=edge")
            return v
        if r < 0.55:
            self.tags.append(f"{name}=form")
            if name == "groups":
                return self.pick([np.int64(valid), np.int32(valid), np.uint8(valid)])
            return self.form(valid)
        self.tags.append(f"{name}=junk")
        return self.pick(junk(nd))

    def n_mutations(self):
        r = self.rng.random()
        return 0 if r < 0.2 else 1 if r < 0.65 else 2 if r < 0.88 else 3

    # -- output_size -----------------------------------------------------------------------
    def output_size(self, c, n, mutate):
        nd = self.nd
        lo = out_spatial(c["isp"], c["k"], c["s"], c["p"], c["d"], [0] * nd)
        sizes = []
        for a, s in zip(lo, c["s"]):     # reachable: lo .. lo + stride - 1, positive
            first = max(a, 1)
            if first > a + s - 1:
                return None
            sizes.append(int(self.rng.integers(first, min(a + s - 1, first + 3) + 1)))
        if not mutate:
            r = self.rng.random()
            if r < 0.6:
                return None
            if r < 0.85:
                return self.pick([tuple(sizes), list(sizes)])
            head = ([n] if n is not None else []) + [c["cout"]]
            return tuple(head + sizes)
        r = self.rng.random()
        self.tags.append("output_size")
        if r < 0.2:
            j = int(self.rng.integers(nd))
            sizes[j] = self.pick([lo[j] - 1, lo[j] + c["s"][j], 0, -1, 2**31, 2**63])
            return tuple(sizes)
        if r < 0.35:
            return tuple(sizes + [sizes[-1]]) if self.coin(0.5) else tuple(sizes[:-1])
        if r < 0.5:
            head = [(n or 1) + 1, c["cout"]] if self.coin(0.5) else [n or 1, c["cout"] + 1]
            return tuple(head + sizes)
        if r < 0.6:
            return np.array(sizes)
        if r < 0.7:
            return sizes[0]
        return self.pick([tuple(sizes[:-1]) + (float(sizes[-1]),),
                          tuple(sizes[:-1]) + (True,), "abc", 3.0, {}, [None] * nd,
                          tuple(np.int64(v) for v in sizes), [[v] for v in sizes],
                          np.array(sizes, dtype=np.float64)])

    def out(self, final, dtype):
        """A valid ``out`` of the final shape."""
        if math.prod(final) > 1 << 20:
            return V(None)
        return A_(("zeros", tuple(final), dtype, 0, "c", None))

    def mutate_out(self, final, dtype):
        self.tags.append("out")
        r = self.rng.random()
        f = tuple(final)
        if math.prod(f) > 1 << 20:
            return V([0.0])
        if r < 0.2:
            s2 = list(f)
            if self.coin(0.5) and s2:
                s2[int(self.rng.integers(len(s2)))] += 1
            else:
                s2 = s2[1:] if self.coin(0.5) else [1] + s2
            return A_(("zeros", tuple(s2), dtype, 0, "c", None))
        if r < 0.4:
            dt = self.pick(["float64", "float16", "uint8", "int8", "float32", "int32"])
            return A_(("zeros", f, dt, 0, "c", None))
        if r < 0.75:
            return A_(("zeros", f, dtype, 0, self.pick(LAYOUTS), None))
        return self.pick([V(None), V([0.0]), V(0.0), V("out"),
                          A_(("zeros", f, dtype, 0, "c", None), tolist=True)])
