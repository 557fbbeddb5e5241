# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled engine: the ISA tier in use, weight packing and the parallel task loops.

Arguments arrive validated and normalised by :mod:`convt._args` (3 spatial dimensions,
C-contiguous, the right dtypes); nothing here checks them again.  The kernels themselves, one
row per ISA tier, are in ``include/convt/tiers.h``; the benchmark's peak probes live in
:mod:`convt._probe`.
"""

import os
import threading
import warnings

import numpy as np

from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport malloc, free
from cython.parallel cimport prange, threadid

from convt._kernels cimport *
from convt._plan import (DIRECT_MAX_COG, PARALLEL_MIN_MACS, make_direct_schedule,
                         make_forward_phases, make_phases, make_schedule)


cdef extern from *:
    """
    #ifndef CONVT_BUILD_FLAGS
    #define CONVT_BUILD_FLAGS "unknown"
    #endif
    #ifndef CONVT_BUILD_COMPILER
    #define CONVT_BUILD_COMPILER "unknown"
    #endif
    """
    const char *CONVT_BUILD_FLAGS
    const char *CONVT_BUILD_COMPILER


# ----------------------------------------------------------------------------- ISA tiers
ISA_ENV = "CONVT_ISA"
_FEATURE_NAMES = (("AVX2+FMA", CONVT_F_AVX2), ("AVX-512 F/BW/VL/DQ", CONVT_F_AVX512),
                  ("AVX512-VNNI", CONVT_F_AVX512VNNI), ("AVX-VNNI", CONVT_F_AVXVNNI),
                  ("NEON", CONVT_F_NEON))


def _feature_list(unsigned mask):
    return [name for name, bit in _FEATURE_NAMES if mask & bit] or ["baseline only"]


def tiers():
    """The ISA tiers this build contains, best first: a list of dicts with ``name``,
    ``available`` (this CPU and OS can run it), ``features`` it needs and its kernel
    variants (``f32``, ``q8``, ``q8_zw``: micro-kernel names; ``f32_alt``, ``q8_alt``: the
    variants with fewer rows taken for few output channels, or None)."""
    cdef unsigned have = convt_cpu_features()
    cdef int i
    out = []
    for i in range(CONVT_NTIERS):
        t = convt_tiers[i]
        out.append(dict(name=t.name.decode(), available=(t.features & ~have) == 0,
                        features=_feature_list(t.features) if t.features else [],
                        f32=t.f32.name.decode(), q8=t.q8.name.decode(),
                        q8_zw=t.q8_zw.name.decode(),
                        f32_alt=t.f32_alt.name.decode() if t.f32_alt != NULL else None,
                        q8_alt=t.q8_alt.name.decode() if t.q8_alt != NULL else None))
    return out


cdef int _tier = CONVT_NTIERS - 1  # index into convt_tiers (the last one is portable)
_isa_reason = ""


def _tier_index(name):
    for i, t in enumerate(tiers()):
        if t["name"] == name:
            return i
    return -1


def _select_isa():
    """Pick the tier once, at import: the best the CPU supports unless CONVT_ISA forces one."""
    global _tier, _isa_reason
    table = tiers()
    names = [t["name"] for t in table]
    have = ", ".join(_feature_list(convt_cpu_features()))
    best = next(i for i, t in enumerate(table) if t["available"])
    request = os.environ.get(ISA_ENV, "auto").strip().lower() or "auto"
    if request == "auto":
        _tier, _isa_reason = best, f"best tier this CPU supports (has {have})"
    elif request not in names:
        warnings.warn(f"{ISA_ENV}={request!r} is not a tier of this build; choose one of "
                      f"{['auto'] + names}. Using {table[best]['name']!r}",
                      RuntimeWarning, stacklevel=2)
        _tier = best
        _isa_reason = f"{ISA_ENV}={request!r} is unknown; best tier this CPU supports"
    elif not table[names.index(request)]["available"]:
        need = ", ".join(table[names.index(request)]["features"])
        warnings.warn(f"{ISA_ENV}={request!r} needs {need}, which this CPU or OS lacks "
                      f"(has {have}); using {table[best]['name']!r}",
                      RuntimeWarning, stacklevel=2)
        _tier = best
        _isa_reason = f"{ISA_ENV}={request} requested but this CPU lacks {need}"
    else:
        _tier, _isa_reason = names.index(request), f"forced by {ISA_ENV}={request}"


_select_isa()


def isa():
    """Name of the ISA tier in use (e.g. ``'avx512vnni'``, ``'avx2'``, ``'neon'``,
    ``'portable'``) and why it was chosen."""
    return convt_tiers[_tier].name.decode(), _isa_reason


def _set_isa(name):
    """Switch the tier for weights packed from now on (tests); returns the previous name.
    Packed weights keep the tier they were packed for."""
    global _tier, _isa_reason
    i = _tier_index(name)
    if i < 0 or not tiers()[i]["available"]:
        raise ValueError(f"tier {name!r} is not available here: {tiers()}")
    prev = convt_tiers[_tier].name.decode()
    _tier, _isa_reason = i, "set in process"
    return prev


def openmp_enabled():
    """True when the extension was compiled with OpenMP."""
    return bool(convt_openmp_enabled())


def build_info():
    """Compiler type and extra flags the engine was built with."""
    return {"compiler": CONVT_BUILD_COMPILER.decode(), "flags": CONVT_BUILD_FLAGS.decode()}


def max_threads():
    """OpenMP's default team size in the calling thread (honours OMP_NUM_THREADS, threadpoolctl)."""
    return convt_max_threads()


# ----------------------------------------------------------------------------- fork safety
# GNU OpenMP's thread pool does not survive fork(): a child that enters a parallel region after
# the parent ran one hangs.  A child forked after convt used its threads therefore runs convt
# on one thread (no OpenMP region at all), and says so once.
_threads_used = False
_forked_after_threads = False
_fork_warned = False


def _after_fork_in_child():
    global _forked_after_threads
    _forked_after_threads = _threads_used


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _usable_threads(int nthreads):
    """``nthreads``, or 1 in a child forked after convt ran OpenMP threads (with a warning)."""
    global _threads_used, _fork_warned
    if nthreads <= 1:
        return 1
    if _forked_after_threads:
        if not _fork_warned:
            _fork_warned = True
            warnings.warn("convt runs on one thread in this process: it was forked after convt "
                          "used OpenMP threads, which do not survive fork(). Start worker "
                          "processes with the 'spawn' or 'forkserver' method to use threads "
                          "in them.", RuntimeWarning, stacklevel=4)
        return 1
    _threads_used = True
    return nthreads


cdef const convt_gemm_kernel *_variant(int tier, int kind, int64_t cog) noexcept:
    return convt_tier_kernel(convt_tiers[tier], kind, cog)


# ----------------------------------------------------------------------------- packed weights
cdef class _PhaseTable:
    """C view of the phase tables of a packed weight for one output shape."""
    cdef convt_phase *phases
    cdef int64_t nphases
    cdef object keep  # arrays whose memory the pointers refer to

    def __cinit__(self):
        self.phases = NULL

    def __dealloc__(self):
        free(self.phases)


cdef _PhaseTable _phase_table(object ph, object mcount, int64_t ckr, int64_t cog, int64_t mr,
                              object wcols=None, int64_t in_w=1):
    """Phases as C structs; a phase's packed weights take ceil(cog/mr)*mr*taps*ckr elements.
    ``in_w``: the input's width, which bounds each tap's W reads (Phases.tap_limits)."""
    cdef _PhaseTable tab = _PhaseTable()
    cdef int64_t P = len(ph.residue), p, a, nq = (cog + mr - 1) // mr
    cdef const int64_t[:, ::1] residue = ph.residue
    cdef const int64_t[::1] tap_start = ph.tap_start
    cdef const int64_t[:, ::1] delta = ph.delta if len(ph.delta) else np.zeros((1, 3), np.int64)
    cdef const int64_t[::1] kidx = ph.kidx if len(ph.kidx) else np.zeros(1, np.int64)
    wlim_a, xoff_a, _ = ph.tap_limits(in_w)
    cdef const int64_t[::1] wlim = wlim_a if len(wlim_a) else np.zeros(1, np.int64)
    cdef const int64_t[::1] xoff = xoff_a if len(xoff_a) else np.zeros(1, np.int64)
    cdef const int64_t[:, ::1] mc = mcount
    cdef const int64_t[::1] wc = mcount[:, 2].copy() if wcols is None else wcols
    cdef int64_t aoff = 0
    tab.keep = (delta, kidx, wlim, xoff)
    tab.nphases = P
    tab.phases = <convt_phase *>malloc(max(P, 1) * sizeof(convt_phase))
    if tab.phases == NULL:
        raise MemoryError()
    for p in range(P):
        tab.phases[p].ntaps = tap_start[p + 1] - tap_start[p]
        for a in range(3):
            tab.phases[p].residue[a] = residue[p, a]
            tab.phases[p].mcount[a] = mc[p, a]
        tab.phases[p].wcols = wc[p]
        tab.phases[p].a_offset = aoff
        aoff += nq * mr * ckr * tab.phases[p].ntaps
        tab.phases[p].delta = &delta[tap_start[p], 0] if tab.phases[p].ntaps else &delta[0, 0]
        tab.phases[p].kidx = &kidx[tap_start[p]] if tab.phases[p].ntaps else &kidx[0]
        tab.phases[p].wlim = &wlim[tap_start[p]] if tab.phases[p].ntaps else &wlim[0]
        tab.phases[p].xoff = &xoff[tap_start[p]] if tab.phases[p].ntaps else &xoff[0]
    return tab


# Phases and schedules depend on shapes only: shared by every packed weight (the functional
# API packs its weight per call, and should not plan again for shapes it has seen).
_PHASES = {}
_SCHEDULES = {}
_CACHE_MAX = 256


def _cached(cache, key, make):
    hit = cache.get(key)
    if hit is None:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        hit = cache[key] = make()
    return hit


class _PackedBase:
    """Geometry, phases, kernel variant and cached schedules of packed weights."""

    def _init_geometry(self, shape, stride, padding, dilation, groups, int kind, forward):
        cin, cog = shape[0], shape[1]
        self.kernel = tuple(int(k) for k in shape[2:])
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.dilation = tuple(dilation)
        self.groups = int(groups)
        self.cig = cin // self.groups
        self.cog = cog
        self.ksize = int(np.prod(self.kernel))
        # The weight is in the transposed layout (cin, cog, *k) for both directions.
        self._phase_key = (bool(forward), self.kernel, self.stride, self.padding, self.dilation)
        self.phases = _cached(_PHASES, self._phase_key, lambda: (
            make_forward_phases if forward else make_phases)(
                self.kernel, self.stride, self.padding, self.dilation))
        # Few output channels per group: the direct kernel reads the weights as they are.
        self.direct = self.cog <= DIRECT_MAX_COG
        self.tier = _tier
        self.kind = kind
        cdef const convt_gemm_kernel *v = _variant(_tier, kind, self.cog)
        self.variant = v.name.decode()
        self.tile = (v.mr, v.kr, v.b_size)
        self.ckr = -(-self.cig // v.kr) * v.kr
        self.a_group_stride = 0

    def _pack(self, weight, zero_points=None):
        """Pack ``weight`` into the variant's tiles (and the weight sums of raw-activation
        variants)."""
        cdef const convt_gemm_kernel *v = _variant(self.tier, self.kind, self.cog)
        mr = v.mr
        nq = -(-self.cog // mr)
        ntaps = np.diff(self.phases.tap_start)
        self.a_group_stride = int(nq * mr * self.ckr * ntaps.sum())
        dummy = np.ones((len(self.phases.residue), 3), dtype=np.int64)
        cdef _PhaseTable tab = _phase_table(self.phases, dummy, self.ckr, self.cog, mr)
        cdef convt_geom G
        G.groups, G.cig, G.cog, G.ckr = self.groups, self.cig, self.cog, self.ckr
        G.nphases, G.a_group_stride = tab.nphases, self.a_group_stride
        dtype = (np.float32, np.int16, np.int8)[{4: 0, 2: 1, 1: 2}[v.a_size]]
        self.apack = np.empty(max(1, self.groups * self.a_group_stride), dtype=dtype)
        self.wsum_cog = nq * mr
        self.wsum = (np.zeros(max(1, self.groups * tab.nphases * self.wsum_cog), np.int32)
                     if v.raw_activations else None)
        zw = np.zeros(1, np.int32) if zero_points is None else zero_points
        cdef const unsigned char[::1] wv = weight.reshape(-1).view(np.uint8)
        cdef const int32_t[::1] zv = zw
        cdef unsigned char[::1] av = self.apack.view(np.uint8)
        cdef int32_t[::1] sv = self.wsum if self.wsum is not None else np.zeros(1, np.int32)
        cdef int32_t *sp = &sv[0] if self.wsum is not None else NULL
        cdef int64_t ksize = self.ksize, wcog = self.wsum_cog
        with nogil:
            convt_pack_a(v, &wv[0], &zv[0], &G, ksize, tab.phases, &av[0], sp, wcog)

    def schedule(self, batch, in_shape, out_shape):
        """(Schedule, phase table) for this batch, input and output shape, cached: a layer
        called repeatedly on the same shapes plans once."""
        batch, in_shape, out_shape = int(batch), tuple(in_shape), tuple(out_shape)

        def make():
            plan = make_direct_schedule if self.direct else make_schedule
            sched = plan(self.phases, batch, self.groups, self.cig, self.cog, out_shape,
                         self.tile)
            return (sched, _phase_table(self.phases, sched.mcount, self.ckr, self.cog,
                                        self.tile[0], getattr(sched, "wcols", None),
                                        in_shape[2]))

        return _cached(_SCHEDULES, self._phase_key + (
            self.direct, self.groups, self.cig, self.cog, self.ckr, self.tile, batch, in_shape,
            out_shape), make)


class PackedWeight(_PackedBase):
    """Float32 weights packed once for one geometry: per (group, stride phase) GEMM tiles of
    the current tier's float variant.

    Built from a float32 weight of shape ``(C_in, C_out/groups, KD, KH, KW)`` (1-D and 2-D
    kernels carry unit dimensions) and the 3-D stride, padding and dilation; reused for any
    input size.  ``forward``: the weights of a forward convolution (``padding`` its leading
    side), given in the same layout, i.e. the forward weight ``(C_out, C_in/groups, ...)``
    transposed per group.
    """

    def __init__(self, weight, stride, padding, dilation, groups, forward=False):
        weight = np.ascontiguousarray(weight, dtype=np.float32)
        self._init_geometry(weight.shape, stride, padding, dilation, groups, 0, forward)
        # Non-finite weights: the GEMM multiplies taps that fall outside the input (packed as
        # 0), and 0 * inf is NaN; the direct kernel skips those taps, as the definition does.
        self.direct = self.direct or not np.isfinite(weight).all()
        if self.direct:
            self.weight = weight
        else:
            self._pack(weight)


class PackedWeightQ8(_PackedBase):
    """int8 weights packed for the exact integer GEMM of the current tier.

    ``weight``: int8 ``(C_in, C_out/groups, KD, KH, KW)``; ``zero_points``: int32, one per
    output channel (``C_out``).  With all zero points 0 the tier's u8 x s8 variant is used
    (VNNI where the CPU has it), otherwise the int16 variant on ``w - zero point``.
    ``forward`` as for :class:`PackedWeight`.
    """

    def __init__(self, weight, zero_points, stride, padding, dilation, groups, forward=False):
        weight = np.ascontiguousarray(weight, dtype=np.int8)
        zw = np.ascontiguousarray(zero_points, dtype=np.int32)
        self._init_geometry(weight.shape, stride, padding, dilation, groups,
                            1 if not zw.any() else 2, forward)
        if self.direct:
            # (groups, cig, cog, ...) minus the zero point of output channel g*cog + co
            zg = zw.reshape((groups, 1, -1) + (1,) * (weight.ndim - 2)).astype(np.int16)
            w16 = weight.reshape((groups, -1) + weight.shape[1:]).astype(np.int16) - zg
            self.w16 = np.ascontiguousarray(w16.reshape(weight.shape))
        else:
            self._pack(weight, zw)


# ----------------------------------------------------------------------------- execution
_scratch = threading.local()  # per calling thread: concurrent calls never share scratch


def _get_scratch(nbytes, slot="buf"):
    """A reusable byte buffer of at least ``nbytes``: fresh multi-MB allocations cost page
    faults and kernel zeroing on every call.  The caller keeps the returned array alive for
    as long as it uses the memory (a re-entrant call may replace the cached one).  ``slot``:
    "buf" (per-thread workspaces) or "split" (the W-split copy of a forward input)."""
    buf = getattr(_scratch, slot, None)
    if buf is None or buf.nbytes < nbytes:
        buf = None
        setattr(_scratch, slot, None)  # the old buffer goes before the new one is allocated
        try:
            buf = np.empty(nbytes, dtype=np.uint8)
        except MemoryError:
            raise MemoryError(f"cannot allocate {nbytes} bytes of scratch") from None
        setattr(_scratch, slot, buf)
    return buf


def scratch_nbytes():
    """Bytes of scratch the calling thread holds (kept between calls; for tests)."""
    return sum(0 if b is None else b.nbytes
               for b in (getattr(_scratch, "buf", None), getattr(_scratch, "split", None)))


cdef char *_aligned(object buf):
    """64-byte aligned start of a scratch buffer from _get_scratch(n + 64)."""
    cdef unsigned char[::1] sv = buf
    cdef char *base = <char *>&sv[0]
    return base + (64 - (<size_t>base) % 64) % 64


cdef void _fill_geom(convt_geom *G, pw, x, out, tab):
    cdef int a
    G.batch, G.cin = x.shape[0], x.shape[1]
    G.cout = out.shape[1]
    G.groups, G.cig, G.cog, G.ckr = pw.groups, pw.cig, pw.cog, pw.ckr
    ph = pw.phases
    for a in range(3):
        G.in_shape[a] = x.shape[2 + a]
        G.out_shape[a] = out.shape[2 + a]
        G.stride[a] = ph.out_stride[a]
        G.istride[a] = ph.in_stride[a]
    G.in_size = G.in_shape[0] * G.in_shape[1] * G.in_shape[2]
    G.out_size = G.out_shape[0] * G.out_shape[1] * G.out_shape[2]
    G.a_group_stride = pw.a_group_stride
    G.nw = pw.phases.nw
    G.nphases = (<_PhaseTable>tab).nphases


def convolve_f32(pw, x, bias, out, num_threads):
    """out[...] = conv_transpose(x) with packed weights ``pw``; 5-D C-contiguous float32.

    ``x`` is (N, C_in, D, H, W), ``out`` (N, C_out, OD, OH, OW) and is fully overwritten;
    ``bias`` is (C_out,) float32 or None.  ``num_threads`` >= 1.
    """
    if x.shape[0] == 0:
        return out
    if not pw.phases.complete:
        # Kernel smaller than stride: some positions get no tap, only the bias.
        out[...] = 0.0 if bias is None else bias.reshape(1, -1, 1, 1, 1)
    cdef convt_epi E
    cdef const float[::1] bv
    E.bias, E.rq, E.zx, E.wsum, E.wsum_cog = NULL, NULL, 0, NULL, 0
    if bias is not None:
        bv = bias
        E.bias = &bv[0]
    _execute(pw, x, out, &E, num_threads)
    return out


def convolve_q8(pw, x, int zx, requant, out, num_threads):
    """out[...] = requantized exact conv_transpose of uint8 ``x`` with int8 packed ``pw``.

    ``x`` (N, C_in, D, H, W) and ``out`` (N, C_out, OD, OH, OW) are C-contiguous uint8;
    ``requant`` = (mode, zy, mult, bias, rcp, ibias): mode 0 fbgemm / 1 qnnpack,
    per-output-channel float32 ``mult``, ``bias`` and ``rcp`` and int32 ``ibias`` arrays (see
    include/convt/requant.h).
    """
    if x.shape[0] == 0:
        return out
    cdef convt_requant rq
    mode, zy, mult, bias, rcp, ibias = requant
    cdef const float[::1] mv = mult
    cdef const float[::1] bv = bias
    cdef const float[::1] rv = rcp
    cdef const int32_t[::1] iv = ibias
    rq.mode, rq.zy = mode, zy
    rq.mult, rq.bias, rq.rcp, rq.ibias = &mv[0], &bv[0], &rv[0], &iv[0]
    if not pw.phases.complete:
        # Kernel smaller than stride: some positions get no tap, only requant(0 + bias).
        fill = np.array([convt_requant_one(&rq, o, 0) for o in range(out.shape[1])],
                        dtype=np.uint8)
        out[...] = fill.reshape(1, -1, 1, 1, 1)
    cdef convt_epi E
    cdef const int32_t[::1] sv
    E.bias, E.rq, E.zx, E.wsum, E.wsum_cog = NULL, &rq, zx, NULL, 0
    if not pw.direct and pw.wsum is not None:
        sv = pw.wsum
        E.wsum, E.wsum_cog = &sv[0], pw.wsum_cog
    _execute(pw, x, out, &E, num_threads)
    return out


cdef _execute(pw, x, out, const convt_epi *E, num_threads):
    """Plan (cached) and run every task of one call, on up to ``num_threads`` threads."""
    sched, tab = pw.schedule(x.shape[0], x.shape[2:], out.shape[2:])
    cdef convt_geom G
    cdef int nthreads = max(1, min(int(num_threads), len(sched.tasks)))
    if sched.macs < PARALLEL_MIN_MACS:
        nthreads = 1
    nthreads = _usable_threads(nthreads)
    if pw.phases.wsplit:  # a forward convolution strided along W reads its input split
        x = _split_w(pw.phases, x, nthreads)
    _fill_geom(&G, pw, x, out, tab)
    # Raw pointers below stay valid: x, out, the packed arrays and the scratch buffer are held
    # by Python references for the whole call.
    cdef const unsigned char[::1] xv = x.reshape(-1).view(np.uint8)
    cdef unsigned char[::1] ov = out.reshape(-1).view(np.uint8)
    if pw.direct:
        _run_direct(&G, pw, <_PhaseTable>tab, sched, &xv[0], E, &ov[0], nthreads)
    else:
        _run_gemm(&G, pw, <_PhaseTable>tab, sched, &xv[0], E, &ov[0], nthreads)


cdef object _split_w(ph, x, int nthreads):
    """The input with each row split into the W residues the taps read (include/convt/split.h),
    in per-thread scratch: a (N, C, D, H, ncomp * ceil(W / stride_w)) array."""
    cdef int64_t esize = x.dtype.itemsize, iw = x.shape[4], sw = ph.split_stride
    cdef int64_t ncomp = len(ph.wsplit), wq = ph.component_width(iw), pitch = ncomp * wq
    shape = x.shape[:4] + (pitch,)
    cdef int64_t rows = x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3]
    buf = _get_scratch(rows * pitch * esize + 64, "split")
    xs = np.frombuffer(buf, np.uint8, rows * pitch * esize,
                       (64 - buf.ctypes.data % 64) % 64).view(x.dtype).reshape(shape)
    res_a = np.asarray(ph.wsplit, dtype=np.int64)
    cdef const int64_t[::1] res = res_a
    cdef const unsigned char[::1] xv = x.reshape(-1).view(np.uint8)
    cdef unsigned char[::1] sv = xs.reshape(-1).view(np.uint8)
    cdef const void *xp = &xv[0]
    cdef void *sp = &sv[0]
    cdef Py_ssize_t blk = 64, nblk = (rows + 63) // 64, b  # signed: MSVC OpenMP 2.0
    with nogil:
        if nthreads == 1:
            convt_split_w_rows(xp, sp, 0, rows, iw, sw, &res[0], ncomp, wq, <int>esize)
        else:
            for b in prange(nblk, schedule="static", num_threads=nthreads):
                convt_split_w_rows(xp, sp, b * blk, min(rows, (b + 1) * blk), iw, sw, &res[0],
                                   ncomp, wq, <int>esize)
    return xs


cdef _run_gemm(convt_geom *G, pw, _PhaseTable tab, sched, const void *xp, const convt_epi *E,
               void *op, int nthreads):
    """The GEMM task loop, shared by every dtype and tier."""
    cdef const convt_gemm_kernel *V = _variant(pw.tier, pw.kind, pw.cog)
    G.kc, G.mc, G.nc, G.kpanel = sched.kc, sched.mc, sched.nc, sched.kpanel
    cdef const int64_t[:, ::1] tasks = sched.tasks
    cdef Py_ssize_t ntasks = tasks.shape[0], t  # signed Py_ssize_t: MSVC OpenMP 2.0
    cdef int a
    cdef int64_t nph_max = max(1, int(sched.tasks[:, 2].max()) if ntasks else 1)
    cdef int64_t wsbytes = (convt_workspace_bytes(G.kpanel, V.b_size, nph_max, G.mc, G.nc)
                            + 63) // 64 * 64
    scratch = _get_scratch(nthreads * wsbytes + 64)
    cdef char *base = _aligned(scratch)
    cdef const unsigned char[::1] av = pw.apack.view(np.uint8)
    cdef const void *ap = &av[0]
    cdef convt_workspace *wss = <convt_workspace *>malloc(nthreads * sizeof(convt_workspace))
    if wss == NULL:
        raise MemoryError()
    for a in range(nthreads):
        convt_workspace_init(&wss[a], base + a * wsbytes, G.kpanel, V.b_size, nph_max, G.mc,
                             G.nc)
    try:
        with nogil:
            if nthreads == 1:
                for t in range(ntasks):
                    convt_gemm_task(V, G, tab.phases, ap, xp, E, op, &tasks[t, 0], &wss[0])
            else:
                for t in prange(ntasks, schedule="dynamic", num_threads=nthreads):
                    convt_gemm_task(V, G, tab.phases, ap, xp, E, op, &tasks[t, 0],
                                    &wss[threadid()])
    finally:
        free(wss)


cdef _run_direct(convt_geom *G, pw, _PhaseTable tab, sched, const void *xp,
                 const convt_epi *E, void *op, int nthreads):
    """The direct-kernel task loop (groups with <= 2 output channels), float or int8."""
    cdef const convt_tier *T = convt_tiers[<int>pw.tier]
    cdef bint q8 = pw.kind != 0
    cdef const int64_t[:, ::1] tasks = sched.tasks
    cdef Py_ssize_t ntasks = tasks.shape[0], t  # signed Py_ssize_t: MSVC OpenMP 2.0
    cdef int64_t mtile = sched.mtile
    cdef int64_t per = (convt_direct_scratch_floats(G, mtile) + 15) // 16 * 16  # int32 = float
    scratch = _get_scratch(nthreads * per * 4 + 64)
    cdef char *acc = _aligned(scratch)
    cdef const unsigned char[::1] wv = (pw.w16 if q8 else pw.weight).reshape(-1).view(np.uint8)
    cdef const void *wp = &wv[0]
    cdef int64_t ksize = pw.ksize
    cdef convt_direct_fn direct = T.direct
    with nogil:
        if nthreads == 1:  # no OpenMP region (see _usable_threads)
            for t in range(ntasks):
                direct(q8, G, tab.phases, wp, ksize, xp, E, op, &tasks[t, 0], acc, mtile)
        else:
            for t in prange(ntasks, schedule="dynamic", num_threads=nthreads):
                direct(q8, G, tab.phases, wp, ksize, xp, E, op, &tasks[t, 0],
                       acc + threadid() * per * 4, mtile)
