# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled engine: kernel selection, weight packing and the parallel task loop.

Arguments arrive validated and normalised by :mod:`convt._args` (3 spatial dimensions,
float32, C-contiguous); nothing here checks them again.
"""

import os
import threading
import time
import warnings

import numpy as np

from libc.stdint cimport int16_t, int32_t, int64_t
from libc.stdlib cimport malloc, free
from cython.parallel cimport prange, parallel, threadid

from convt._plan import (DIRECT_MAX_COG, MR, PARALLEL_MIN_MACS, make_direct_schedule,
                         make_phases, make_schedule)


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

cdef extern from "convt/threads.h" nogil:
    int convt_openmp_enabled()
    int convt_max_threads()

cdef extern from "convt/cpu.h" nogil:
    int convt_cpu_has_avx2_fma()
    int CONVT_HAVE_AVX2_KERNELS
    int CONVT_HAVE_NEON_KERNELS

cdef extern from "convt/peak.h" nogil:
    float convt_peak_fma_portable(int64_t iters)
    float convt_peak_fma_avx2(int64_t iters)
    float convt_peak_s16_portable(int64_t iters)
    float convt_peak_s16_avx2(int64_t iters)

cdef extern from "convt/subconv.h" nogil:
    ctypedef void (*convt_f32_ukr_fn)(int64_t kc, const float *a, const float *b, float *c,
                                      int64_t ldc, int accumulate, int mr) noexcept nogil
    void convt_f32_ukr_portable(int64_t, const float *, const float *, float *, int64_t, int, int)
    void convt_f32_ukr_avx2(int64_t, const float *, const float *, float *, int64_t, int, int)
    void convt_f32_ukr_neon(int64_t, const float *, const float *, float *, int64_t, int, int)

    ctypedef struct convt_geom:
        int64_t batch, cin, cout, groups, cig, cog
        int64_t in_shape[3]
        int64_t out_shape[3]
        int64_t stride[3]
        int64_t in_size, out_size
        int64_t kc, mc, nc
        int64_t kpanel
        int64_t nw
        int64_t a_group_stride

    ctypedef struct convt_phase:
        int64_t ntaps
        int64_t residue[3]
        int64_t mcount[3]
        int64_t a_offset
        const int64_t *delta
        const int64_t *kidx

    ctypedef struct convt_workspace:
        pass

    int64_t convt_workspace_bytes(int64_t kpanel, int64_t sw, int64_t mc, int64_t nc)
    void convt_workspace_init(convt_workspace *ws, void *mem, int64_t kpanel, int64_t sw,
                              int64_t mc, int64_t nc)
    void convt_subconv_task(const convt_geom *G, const convt_phase *phases, const float *apack,
                            const float *x, const float *bias, float *out, const int64_t *task,
                            convt_workspace *ws, convt_f32_ukr_fn ukr)
    void convt_pack_a(const float *w, int64_t groups, int64_t cig, int64_t cog, int64_t ksize,
                      const convt_phase *phases, int64_t nphases, int64_t a_group_stride,
                      float *apack)

cdef extern from "convt/subconv_q.h" nogil:
    ctypedef void (*convt_s16_ukr_fn)(int64_t kc, const int16_t *a, const int16_t *b, int32_t *c,
                                      int64_t ldc, int accumulate, int mr) noexcept nogil
    void convt_s16_ukr_portable(int64_t, const int16_t *, const int16_t *, int32_t *, int64_t, int, int)
    void convt_s16_ukr_avx2(int64_t, const int16_t *, const int16_t *, int32_t *, int64_t, int, int)
    void convt_s16_ukr_neon(int64_t, const int16_t *, const int16_t *, int32_t *, int64_t, int, int)
    ctypedef struct convt_requant:
        int mode
        int32_t zy
        const float *mult
        const float *fbias
        const int32_t *ibias
    unsigned char convt_requant_one(const convt_requant *q, int64_t o, int32_t acc)
    void convt_subconv_task_q8(const convt_geom *G, const convt_phase *phases,
                               const int16_t *apack, const unsigned char *x, int32_t zx,
                               const convt_requant *rq, unsigned char *out, const int64_t *task,
                               convt_workspace *ws, convt_s16_ukr_fn ukr)
    float convt_peak_s16_ukr(int64_t iters, convt_s16_ukr_fn ukr)
    void convt_pack_a_s16(const signed char *w, const int32_t *zw, int64_t groups, int64_t cig,
                          int64_t cog, int64_t ksize, const convt_phase *phases,
                          int64_t nphases, int64_t a_group_stride, int16_t *apack)

cdef extern from "convt/direct_q.h" nogil:
    ctypedef void (*convt_s32_axpy_fn)(int32_t *acc, const unsigned char *x, int32_t zx,
                                       int32_t w, int64_t n) noexcept nogil
    void convt_s32_axpy_portable(int32_t *, const unsigned char *, int32_t, int32_t, int64_t)
    void convt_s32_axpy_avx2(int32_t *, const unsigned char *, int32_t, int32_t, int64_t)
    void convt_direct_task_q8(const convt_geom *G, const convt_phase *phases, const int16_t *w16,
                              int64_t ksize, const unsigned char *x, int32_t zx,
                              const convt_requant *rq, unsigned char *out, const int64_t *task,
                              int32_t *acc, convt_s32_axpy_fn axpy)

cdef extern from "convt/direct.h" nogil:
    ctypedef void (*convt_f32_axpy_fn)(float *acc, const float *x, float w, int64_t n) noexcept nogil
    void convt_f32_axpy_portable(float *acc, const float *x, float w, int64_t n)
    void convt_f32_axpy_avx2(float *acc, const float *x, float w, int64_t n)
    int64_t convt_direct_scratch_floats(const convt_geom *G)
    void convt_direct_task(const convt_geom *G, const convt_phase *phases, const float *w,
                           int64_t ksize, const float *x, const float *bias, float *out,
                           const int64_t *task, float *acc, convt_f32_axpy_fn axpy)


# ----------------------------------------------------------------------------- ISA dispatch
ISA_ENV = "CONVT_ISA"
_ISA_CHOICES = ("auto", "avx2", "neon", "portable")

cdef convt_f32_ukr_fn _ukr_f32 = convt_f32_ukr_portable
cdef convt_f32_axpy_fn _axpy_f32 = convt_f32_axpy_portable
cdef convt_s16_ukr_fn _ukr_s16 = convt_s16_ukr_portable
cdef convt_s32_axpy_fn _axpy_s32 = convt_s32_axpy_portable
_isa = "portable"
_isa_reason = ""


def _select_isa():
    """Pick the kernel variant once, at import: the best the CPU supports unless forced."""
    global _ukr_f32, _axpy_f32, _ukr_s16, _axpy_s32, _isa, _isa_reason
    request = os.environ.get(ISA_ENV, "auto").strip().lower() or "auto"
    if request not in _ISA_CHOICES:
        warnings.warn(f"{ISA_ENV}={request!r} is not one of {_ISA_CHOICES}; using 'auto'",
                      RuntimeWarning, stacklevel=2)
        request = "auto"
    have_avx2 = bool(CONVT_HAVE_AVX2_KERNELS) and bool(convt_cpu_has_avx2_fma())
    have_neon = bool(CONVT_HAVE_NEON_KERNELS)  # baseline on AArch64: no runtime check needed
    forced = f"forced by {ISA_ENV}={request}"
    if request == "portable":
        _isa, _isa_reason = "portable", forced
    elif have_avx2 and request in ("auto", "avx2"):
        _isa = "avx2"
        _isa_reason = forced if request == "avx2" else "CPU and OS support AVX2 and FMA"
    elif have_neon and request in ("auto", "neon"):
        _isa = "neon"
        _isa_reason = forced if request == "neon" else "AArch64: NEON is part of the baseline"
    else:
        if request in ("avx2", "neon"):
            warnings.warn(f"{ISA_ENV}={request} is not available on this CPU/build; using "
                          f"'portable'", RuntimeWarning, stacklevel=2)
        _isa = "portable"
        if request in ("avx2", "neon"):
            _isa_reason = f"{ISA_ENV}={request} requested but not available"
        elif CONVT_HAVE_AVX2_KERNELS:
            _isa_reason = "CPU or OS lacks AVX2/FMA"
        else:
            _isa_reason = "no SIMD kernels for this architecture"
    if _isa == "avx2":
        _ukr_f32, _axpy_f32 = convt_f32_ukr_avx2, convt_f32_axpy_avx2
        _ukr_s16, _axpy_s32 = convt_s16_ukr_avx2, convt_s32_axpy_avx2
    elif _isa == "neon":
        # the axpy of the direct kernel is left to the compiler's NEON auto-vectorisation
        _ukr_f32, _axpy_f32 = convt_f32_ukr_neon, convt_f32_axpy_portable
        _ukr_s16, _axpy_s32 = convt_s16_ukr_neon, convt_s32_axpy_portable
    else:
        _ukr_f32, _axpy_f32 = convt_f32_ukr_portable, convt_f32_axpy_portable
        _ukr_s16, _axpy_s32 = convt_s16_ukr_portable, convt_s32_axpy_portable


_select_isa()


def isa():
    """Name of the kernel variant in use (``'avx2'``, ``'neon'`` or ``'portable'``) and why."""
    return _isa, _isa_reason


def openmp_enabled():
    """True when the extension was compiled with OpenMP."""
    return bool(convt_openmp_enabled())


def build_info():
    """Compiler type and extra flags the engine was built with."""
    return {"compiler": CONVT_BUILD_COMPILER.decode(), "flags": CONVT_BUILD_FLAGS.decode()}


def max_threads():
    """OpenMP's default team size in the calling thread (honours OMP_NUM_THREADS, threadpoolctl)."""
    return convt_max_threads()


# ----------------------------------------------------------------------------- packed weights
cdef class _PhaseTable:
    """C view of the phase tables of a PackedWeight for one output shape."""
    cdef convt_phase *phases
    cdef int64_t nphases
    cdef object keep  # arrays whose memory the pointers refer to

    def __cinit__(self):
        self.phases = NULL

    def __dealloc__(self):
        free(self.phases)


cdef _PhaseTable _phase_table(object ph, object mcount, int64_t cig, int64_t cog,
                              int64_t kalign=1):
    """Phases as C structs; a phase's packed weights take nq*MR*K floats (K rounded up to
    ``kalign``: 2 for the int16 pair layout)."""
    cdef _PhaseTable tab = _PhaseTable()
    cdef int64_t P = len(ph.residue), p, a, nq = (cog + MR - 1) // MR
    cdef const int64_t[:, ::1] residue = ph.residue
    cdef const int64_t[::1] tap_start = ph.tap_start
    cdef const int64_t[:, ::1] delta = ph.delta if len(ph.delta) else np.zeros((1, 3), np.int64)
    cdef const int64_t[::1] kidx = ph.kidx if len(ph.kidx) else np.zeros(1, np.int64)
    cdef const int64_t[:, ::1] mc = mcount
    cdef int64_t aoff = 0
    tab.keep = (delta, kidx)
    tab.nphases = P
    tab.phases = <convt_phase *>malloc(max(P, 1) * sizeof(convt_phase))
    if tab.phases == NULL:
        raise MemoryError()
    for p in range(P):
        tab.phases[p].ntaps = tap_start[p + 1] - tap_start[p]
        for a in range(3):
            tab.phases[p].residue[a] = residue[p, a]
            tab.phases[p].mcount[a] = mc[p, a]
        tab.phases[p].a_offset = aoff
        aoff += nq * MR * ((cig * tab.phases[p].ntaps + kalign - 1) // kalign * kalign)
        tab.phases[p].delta = &delta[tap_start[p], 0] if tab.phases[p].ntaps else &delta[0, 0]
        tab.phases[p].kidx = &kidx[tap_start[p]] if tab.phases[p].ntaps else &kidx[0]
    return tab


class _PackedBase:
    """Geometry, phases and cached schedules shared by the float and int8 packed weights."""

    _kalign = 1  # K granularity of the packed layout

    def _init_geometry(self, shape, stride, padding, dilation, groups):
        cin, cog = shape[0], shape[1]
        self.kernel = tuple(int(k) for k in shape[2:])
        self.stride = tuple(stride)
        self.padding = tuple(padding)
        self.dilation = tuple(dilation)
        self.groups = int(groups)
        self.cig = cin // self.groups
        self.cog = cog
        self.ksize = int(np.prod(self.kernel))
        self.phases = make_phases(self.kernel, self.stride, self.padding, self.dilation)
        self.direct = False
        self.a_group_stride = 0
        self._schedules = {}

    def _packing_table(self):
        """Phase table for weight packing (no output shape yet) and the group stride."""
        nq = (self.cog + MR - 1) // MR
        ntaps = np.diff(self.phases.tap_start)
        k = -(-(ntaps * self.cig) // self._kalign) * self._kalign
        self.a_group_stride = int(nq * MR * k.sum())
        dummy = np.ones((len(self.phases.residue), 3), dtype=np.int64)
        return _phase_table(self.phases, dummy, self.cig, self.cog, self._kalign)

    def schedule(self, batch, out_shape):
        """(Schedule, phase table) for this batch and output shape, cached: a layer called
        repeatedly on the same shapes plans once."""
        key = (int(batch), tuple(out_shape))
        hit = self._schedules.get(key)
        if hit is None:
            make = make_direct_schedule if self.direct else make_schedule
            sched = make(self.phases, key[0], self.groups, self.cig, self.cog, key[1],
                         self.stride)
            hit = (sched, _phase_table(self.phases, sched.mcount, self.cig, self.cog,
                                       self._kalign))
            if len(self._schedules) >= 16:
                self._schedules.clear()
            self._schedules[key] = hit
        return hit


class PackedWeight(_PackedBase):
    """Float32 weights packed once for one geometry: per (group, stride phase) GEMM panels.

    Built from a float32 weight of shape ``(C_in, C_out/groups, KD, KH, KW)`` (1-D and 2-D
    kernels carry unit dimensions) and the 3-D stride, padding and dilation; reused for any
    input size.
    """

    def __init__(self, weight, stride, padding, dilation, groups):
        weight = np.ascontiguousarray(weight, dtype=np.float32)
        self._init_geometry(weight.shape, stride, padding, dilation, groups)
        # Few output channels per group: the direct kernel reads the weights as they are.
        self.direct = self.cog <= DIRECT_MAX_COG
        if self.direct:
            self.weight = weight
            return
        cdef _PhaseTable tab = self._packing_table()
        self.apack = np.empty(max(1, self.groups * self.a_group_stride), dtype=np.float32)
        cdef const float[::1] wv = weight.reshape(-1)
        cdef float[::1] av = self.apack
        cdef int64_t ksize = self.ksize
        cdef int64_t g = self.groups, cig = self.cig, cog = self.cog, ags = self.a_group_stride
        with nogil:
            convt_pack_a(&wv[0], g, cig, cog, ksize, tab.phases, tab.nphases, ags, &av[0])


class PackedWeightQ8(_PackedBase):
    """int8 weights packed as int16 (w - zero point) pairs for the exact integer GEMM.

    ``weight``: int8 ``(C_in, C_out/groups, KD, KH, KW)``; ``zero_points``: int32, one per
    output channel of a group (``C_out/groups``; a per-tensor zero point repeated).
    """

    _kalign = 2

    def __init__(self, weight, zero_points, stride, padding, dilation, groups):
        weight = np.ascontiguousarray(weight, dtype=np.int8)
        zw = np.ascontiguousarray(zero_points, dtype=np.int32)
        self._init_geometry(weight.shape, stride, padding, dilation, groups)
        # Few output channels per group: the direct kernel reads (w - zw) as it is laid out.
        self.direct = self.cog <= DIRECT_MAX_COG
        if self.direct:
            zshape = (1, -1) + (1,) * (weight.ndim - 2)
            self.w16 = np.ascontiguousarray(weight.astype(np.int16) - zw.reshape(zshape).astype(np.int16))
            return
        cdef _PhaseTable tab = self._packing_table()
        self.apack = np.empty(max(1, self.groups * self.a_group_stride), dtype=np.int16)
        cdef const signed char[::1] wv = weight.reshape(-1).view(np.int8)
        cdef const int32_t[::1] zv = zw
        cdef int16_t[::1] av = self.apack
        cdef int64_t ksize = self.ksize
        cdef int64_t g = self.groups, cig = self.cig, cog = self.cog, ags = self.a_group_stride
        with nogil:
            convt_pack_a_s16(&wv[0], &zv[0], g, cig, cog, ksize, tab.phases, tab.nphases, ags,
                             &av[0])


# ----------------------------------------------------------------------------- execution
_scratch = threading.local()  # per calling thread: concurrent calls never share scratch


def _get_scratch(nbytes):
    """A reusable byte buffer of at least ``nbytes``: fresh multi-MB allocations cost page
    faults and kernel zeroing on every call."""
    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        _scratch.buf = buf
    return buf


cdef void _fill_geom(convt_geom *G, pw, x, out):
    cdef int a
    G.batch, G.cin = x.shape[0], x.shape[1]
    G.cout = out.shape[1]
    G.groups, G.cig, G.cog = pw.groups, pw.cig, pw.cog
    for a in range(3):
        G.in_shape[a] = x.shape[2 + a]
        G.out_shape[a] = out.shape[2 + a]
        G.stride[a] = pw.stride[a]
    G.in_size = G.in_shape[0] * G.in_shape[1] * G.in_shape[2]
    G.out_size = G.out_shape[0] * G.out_shape[1] * G.out_shape[2]
    G.a_group_stride = pw.a_group_stride
    G.nw = pw.phases.nw


def conv_transpose_f32(pw, x, bias, out, num_threads):
    """out[...] = conv_transpose(x) with packed weights ``pw``; 5-D C-contiguous float32.

    ``x`` is (N, C_in, D, H, W), ``out`` (N, C_out, OD, OH, OW) and is fully overwritten;
    ``bias`` is (C_out,) float32 or None.  ``num_threads`` >= 1.
    """
    cdef convt_geom G
    _fill_geom(&G, pw, x, out)
    if G.batch == 0:
        return out
    if not pw.phases.complete:
        # Kernel smaller than stride: some positions get no tap, only the bias.
        out[...] = 0.0 if bias is None else bias.reshape(1, -1, 1, 1, 1)

    sched, tab_obj = pw.schedule(G.batch, out.shape[2:])
    cdef int nthreads = max(1, min(int(num_threads), len(sched.tasks)))
    if sched.macs < PARALLEL_MIN_MACS:
        nthreads = 1
    cdef const float *bp = NULL
    cdef const float[::1] bv
    if bias is not None:
        bv = bias
        bp = &bv[0]
    if pw.direct:
        _run_direct(&G, pw, tab_obj, sched.tasks, x, bp, out, nthreads)
    else:
        _run_gemm(&G, pw, tab_obj, sched, x, bp, out, nthreads)
    return out


def conv_transpose_q8(pw, x, int zx, requant, out, num_threads):
    """out[...] = requantized exact conv_transpose of uint8 ``x`` with int8 packed ``pw``.

    ``x`` (N, C_in, D, H, W) and ``out`` (N, C_out, OD, OH, OW) are C-contiguous uint8;
    ``requant`` = (mode, zy, mult, fbias, ibias): mode 0 fbgemm / 1 qnnpack, per-output-channel
    float32 ``mult`` and ``fbias`` and int32 ``ibias`` arrays (see include/convt/requant.h).
    """
    cdef convt_geom G
    _fill_geom(&G, pw, x, out)
    if G.batch == 0:
        return out
    cdef convt_requant rq
    mode, zy, mult, fbias, ibias = requant
    cdef const float[::1] mv = mult
    cdef const float[::1] fv = fbias
    cdef const int32_t[::1] iv = ibias
    rq.mode, rq.zy = mode, zy
    rq.mult, rq.fbias, rq.ibias = &mv[0], &fv[0], &iv[0]
    if not pw.phases.complete:
        # Kernel smaller than stride: some positions get no tap, only requant(0 + bias).
        fill = np.array([convt_requant_one(&rq, o, 0) for o in range(G.cout)], dtype=np.uint8)
        out[...] = fill.reshape(1, -1, 1, 1, 1)

    sched, tab_obj = pw.schedule(G.batch, out.shape[2:])
    cdef _PhaseTable tab = tab_obj
    cdef int nthreads = max(1, min(int(num_threads), len(sched.tasks)))
    if sched.macs < PARALLEL_MIN_MACS:
        nthreads = 1
    if pw.direct:
        _run_direct_q8(&G, pw, tab, sched.tasks, x, zx, &rq, out, nthreads)
        return out
    G.kc, G.mc, G.nc, G.kpanel = (sched.kc + 1) // 2 * 2, sched.mc, sched.nc, sched.kpanel
    cdef const int64_t[:, ::1] tasks = sched.tasks
    cdef Py_ssize_t ntasks = tasks.shape[0], t  # signed Py_ssize_t: MSVC OpenMP 2.0
    cdef convt_workspace *wss = _workspaces(&G, sched.tasks, nthreads)
    cdef const unsigned char[::1] xv = x.reshape(-1)
    cdef unsigned char[::1] ov = out.reshape(-1)
    cdef const int16_t[::1] av = pw.apack
    cdef convt_s16_ukr_fn ukr = _ukr_s16
    cdef const unsigned char *xp = &xv[0]
    cdef unsigned char *op = &ov[0]
    cdef const int16_t *ap = &av[0]
    cdef int32_t zx_ = zx
    try:
        with nogil:
            if nthreads == 1:
                for t in range(ntasks):
                    convt_subconv_task_q8(&G, tab.phases, ap, xp, zx_, &rq, op, &tasks[t, 0],
                                          &wss[0], ukr)
            else:
                for t in prange(ntasks, schedule="dynamic", num_threads=nthreads):
                    convt_subconv_task_q8(&G, tab.phases, ap, xp, zx_, &rq, op, &tasks[t, 0],
                                          &wss[threadid()], ukr)
    finally:
        free(wss)
    return out


cdef _run_direct_q8(convt_geom *G, pw, _PhaseTable tab, tasks_arr, x, int32_t zx,
                    const convt_requant *rq, out, int nthreads):
    cdef const int64_t[:, ::1] tasks = tasks_arr
    cdef Py_ssize_t ntasks = tasks.shape[0], t  # signed Py_ssize_t: MSVC OpenMP 2.0
    cdef int64_t per = (convt_direct_scratch_floats(G) + 15) // 16 * 16  # int32 = float size
    cdef int32_t *acc = <int32_t *>_aligned_scratch(nthreads * per * sizeof(int32_t))
    cdef const unsigned char[::1] xv = x.reshape(-1)
    cdef unsigned char[::1] ov = out.reshape(-1)
    cdef const int16_t[::1] wv = pw.w16.reshape(-1)
    cdef int64_t ksize = pw.ksize
    cdef convt_s32_axpy_fn axpy = _axpy_s32
    cdef const unsigned char *xp = &xv[0]
    cdef unsigned char *op = &ov[0]
    cdef const int16_t *wp = &wv[0]
    with nogil:
        if nthreads == 1:
            for t in range(ntasks):
                convt_direct_task_q8(G, tab.phases, wp, ksize, xp, zx, rq, op, &tasks[t, 0],
                                     acc, axpy)
        else:
            for t in prange(ntasks, schedule="dynamic", num_threads=nthreads):
                convt_direct_task_q8(G, tab.phases, wp, ksize, xp, zx, rq, op, &tasks[t, 0],
                                     acc + threadid() * per, axpy)


cdef char *_aligned_scratch(int64_t nbytes) except NULL:
    """64-byte aligned start of the calling thread's scratch buffer of >= nbytes."""
    cdef unsigned char[::1] sv = _get_scratch(nbytes + 64)
    cdef char *base = <char *>&sv[0]
    return base + (64 - (<size_t>base) % 64) % 64


cdef convt_workspace *_workspaces(convt_geom *G, tasks, int nthreads) except NULL:
    """One workspace per thread (G's blocking must be set) in the calling thread's scratch;
    the caller frees the returned array."""
    cdef int a
    cdef int64_t nph_max = max(1, int(tasks[:, 2].max()) if len(tasks) else 1)
    cdef int64_t wsbytes = (convt_workspace_bytes(G.kpanel, nph_max, G.mc, G.nc) + 63) // 64 * 64
    cdef char *base = _aligned_scratch(nthreads * wsbytes)
    cdef convt_workspace *wss = <convt_workspace *>malloc(nthreads * sizeof(convt_workspace))
    if wss == NULL:
        raise MemoryError()
    for a in range(nthreads):
        convt_workspace_init(&wss[a], base + a * wsbytes, G.kpanel, nph_max, G.mc, G.nc)
    return wss


cdef _run_gemm(convt_geom *G, pw, _PhaseTable tab, sched, x, const float *bp, out,
               int nthreads):
    G.kc, G.mc, G.nc, G.kpanel = sched.kc, sched.mc, sched.nc, sched.kpanel
    cdef const int64_t[:, ::1] tasks = sched.tasks
    cdef Py_ssize_t ntasks = tasks.shape[0], t  # signed Py_ssize_t: MSVC OpenMP 2.0
    cdef convt_workspace *wss = _workspaces(G, sched.tasks, nthreads)
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] ov = out.reshape(-1)
    cdef const float[::1] av = pw.apack
    cdef convt_f32_ukr_fn ukr = _ukr_f32
    cdef const float *xp = &xv[0]
    cdef float *op = &ov[0]
    cdef const float *ap = &av[0]
    try:
        with nogil:
            if nthreads == 1:
                for t in range(ntasks):
                    convt_subconv_task(G, tab.phases, ap, xp, bp, op, &tasks[t, 0], &wss[0], ukr)
            else:
                for t in prange(ntasks, schedule="dynamic", num_threads=nthreads):
                    convt_subconv_task(G, tab.phases, ap, xp, bp, op, &tasks[t, 0],
                                       &wss[threadid()], ukr)
    finally:
        free(wss)


cdef _run_direct(convt_geom *G, pw, _PhaseTable tab, tasks_arr, x, const float *bp, out,
                 int nthreads):
    cdef const int64_t[:, ::1] tasks = tasks_arr
    cdef Py_ssize_t ntasks = tasks.shape[0], t  # signed Py_ssize_t: MSVC OpenMP 2.0
    cdef int64_t per = (convt_direct_scratch_floats(G) + 15) // 16 * 16
    cdef float *acc = <float *>_aligned_scratch(nthreads * per * sizeof(float))
    cdef const float[::1] xv = x.reshape(-1)
    cdef float[::1] ov = out.reshape(-1)
    cdef const float[::1] wv = pw.weight.reshape(-1)
    cdef int64_t ksize = pw.ksize
    cdef convt_f32_axpy_fn axpy = _axpy_f32
    cdef const float *xp = &xv[0]
    cdef float *op = &ov[0]
    cdef const float *wp = &wv[0]
    with nogil:
        if nthreads == 1:
            for t in range(ntasks):
                convt_direct_task(G, tab.phases, wp, ksize, xp, bp, op, &tasks[t, 0], acc, axpy)
        else:
            for t in prange(ntasks, schedule="dynamic", num_threads=nthreads):
                convt_direct_task(G, tab.phases, wp, ksize, xp, bp, op, &tasks[t, 0],
                                  acc + threadid() * per, axpy)


# ----------------------------------------------------------------------------- peak probe
cdef double _peak_seconds(int n, int64_t iters, bint use_avx2, int kind):
    """Wall time of n threads each running one probe of ``iters`` iterations
    (kind 0: fp32 FMA chains, 1: vpmaddwd chains, 2: the int8 micro-kernel in L1)."""
    cdef int i
    cdef float sink = 0
    cdef convt_s16_ukr_fn ukr = _ukr_s16
    t0 = time.perf_counter()
    with nogil:
        for i in prange(n, num_threads=n, schedule="static", chunksize=1):
            if kind == 2:
                sink += convt_peak_s16_ukr(iters, ukr)
            elif kind == 1:
                sink += convt_peak_s16_avx2(iters) if use_avx2 else convt_peak_s16_portable(iters)
            else:
                sink += convt_peak_fma_avx2(iters) if use_avx2 else convt_peak_fma_portable(iters)
    dt = time.perf_counter() - t0
    if sink == 12345.0:  # keep the result alive
        print("")
    return dt


def _peak(double seconds, int num_threads, int kind):
    cdef int n = num_threads if num_threads > 0 else convt_max_threads()
    cdef int64_t iters = 1 << 10
    cdef bint use_avx2 = _isa == "avx2"
    # calibrate: grow iters until one run takes a reasonable time
    while _peak_seconds(n, iters, use_avx2, kind) < seconds / 4 and iters < (1 << 40):
        iters *= 4
    best = min(_peak_seconds(n, iters, use_avx2, kind) for _ in range(3))
    ops = 6 * 16 * 256 * 2 if kind == 2 else 12 * (16 if kind == 1 else 8) * 2
    return n * iters * ops / best / 1e9


def peak_probe_f32(double seconds=0.25, int num_threads=0):
    """Measured fp32 FMA peak of this machine in GFLOP/s with ``num_threads`` threads.

    Runs 12 independent 8-lane FMA chains per thread (the AVX2 variant when the CPU has it),
    all threads at once, and returns the best of three timed runs.
    """
    return _peak(seconds, num_threads, 0)


def peak_probe_int8(double seconds=0.25, int num_threads=0):
    """Measured exact-int8 peak in GOP/s (2 per multiply-add) for the quantized kernel's
    instruction mix: the better of 12 independent vpmaddwd + vpaddd chains per thread and the
    int8 micro-kernel itself on L1-resident panels (which sustains a few % more here)."""
    return max(_peak(seconds / 2, num_threads, 1), _peak(seconds / 2, num_threads, 2))
