# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Peak probes for the benchmark: what this machine can do with the instructions of the ISA
tier in use, measured with independent chains and with the tier's own micro-kernels.

Kept apart from the engine (:mod:`convt._engine`): nothing at run time depends on them.
"""

import time

from libc.stdint cimport int64_t
from cython.parallel cimport prange

from convt._kernels cimport convt_gemm_kernel, convt_tier, convt_tiers, CONVT_NTIERS
from convt._kernels cimport convt_max_threads
from convt import _engine


cdef extern from "convt/peak.h" nogil:
    int CONVT_HAVE_X86_KERNELS
    float convt_peak_fma_portable(int64_t iters)
    float convt_peak_s16_portable(int64_t iters)
    float convt_peak_fma_avx2(int64_t iters)
    float convt_peak_fma_avx512(int64_t iters)
    float convt_peak_s16_avx2(int64_t iters)
    float convt_peak_dpbusd_avx512vnni(int64_t iters)
    float convt_peak_dpbusd_avxvnni(int64_t iters)
    float convt_peak_ukr(int64_t iters, const convt_gemm_kernel *V)


# chain probes: name -> (ops per iteration, label)
_CHAINS = {
    "fma_portable": (192, "fp32 multiply-add, plain C"),
    "fma_avx2": (192, "fp32 FMA ymm"),
    "fma_avx512": (384, "fp32 FMA zmm"),
    "s16_portable": (384, "int16 pairs, plain C"),
    "s16_avx2": (384, "vpmaddwd+vpaddd ymm"),
    "dpbusd_avx512vnni": (1536, "vpdpbusd zmm"),
    "dpbusd_avxvnni": (768, "vpdpbusd ymm (VEX)"),
}
# per tier: the chain probes that fit its instructions (fp32, int8)
_TIER_CHAINS = {
    "avx512vnni": (("fma_avx2", "fma_avx512"), ("dpbusd_avx512vnni",)),
    "avx512": (("fma_avx2", "fma_avx512"), ("s16_avx2",)),
    "avxvnni": (("fma_avx2",), ("dpbusd_avxvnni",)),
    "avx2": (("fma_avx2",), ("s16_avx2",)),
}


cdef float _chain(int which, int64_t iters) noexcept nogil:
    if which == 0:
        return convt_peak_fma_portable(iters)
    if which == 1:
        return convt_peak_s16_portable(iters)
    if CONVT_HAVE_X86_KERNELS:
        if which == 2:
            return convt_peak_fma_avx2(iters)
        if which == 3:
            return convt_peak_fma_avx512(iters)
        if which == 4:
            return convt_peak_s16_avx2(iters)
        if which == 5:
            return convt_peak_dpbusd_avx512vnni(iters)
        if which == 6:
            return convt_peak_dpbusd_avxvnni(iters)
    return 0


_CHAIN_IDS = {"fma_portable": 0, "s16_portable": 1, "fma_avx2": 2, "fma_avx512": 3,
              "s16_avx2": 4, "dpbusd_avx512vnni": 5, "dpbusd_avxvnni": 6}


cdef const convt_gemm_kernel *_tier_kernel(str tier, int kind):
    cdef int i
    cdef const convt_tier *t
    for i in range(CONVT_NTIERS):
        t = convt_tiers[i]
        if t.name.decode() == tier:
            return t.f32 if kind == 0 else t.q8
    return NULL


cdef double _seconds(int n, int64_t iters, int which, const convt_gemm_kernel *V):
    """Wall time of n threads each running one probe of ``iters`` iterations."""
    cdef int i
    cdef float sink = 0
    t0 = time.perf_counter()
    with nogil:
        for i in prange(n, num_threads=n, schedule="static", chunksize=1):
            if V != NULL:
                sink += convt_peak_ukr(iters, V)
            else:
                sink += _chain(which, iters)
    dt = time.perf_counter() - t0
    if sink == 12345.0:  # keep the result alive
        print("")
    return dt


cdef double _rate(double seconds, int n, int which, const convt_gemm_kernel *V, double ops):
    """ops * n * iters / best time, in G/s, after calibrating iters to about seconds/4."""
    cdef int64_t iters = 1 << 8
    while _seconds(n, iters, which, V) < seconds / 4 and iters < (1 << 40):
        iters *= 4
    best = min(_seconds(n, iters, which, V) for _ in range(3))
    return n * iters * ops / best / 1e9


def peak(str dtype="f32", double seconds=0.25, int num_threads=0, tier=None):
    """Measured peak of this machine for the instructions of ``tier`` (default: in use).

    Parameters
    ----------
    dtype : {'f32', 'int8'}
        fp32 multiply-adds (GFLOP/s) or exact int8 multiply-adds (GOP/s), 2 ops each.
    seconds : float
        About how long to measure in all.
    num_threads : int
        Threads running the probe at once (0: OpenMP's default).
    tier : str, optional
        ISA tier whose instructions to probe.

    Returns
    -------
    (rate, label) : (float, str)
        The best of the tier's chain probes and of its own micro-kernel on L1-resident
        panels, and which one it was.
    """
    tier = tier or _engine.isa()[0]
    cdef int n = num_threads if num_threads > 0 else convt_max_threads()
    cdef int kind = 0 if dtype == "f32" else 1
    names = _TIER_CHAINS.get(tier, (("fma_portable",), ("s16_portable",)))[kind]
    share = seconds / (len(names) + 1)
    results = []
    for name in names:
        ops, label = _CHAINS[name]
        results.append((_rate(share, n, _CHAIN_IDS[name], NULL, ops), label))
    cdef const convt_gemm_kernel *V = _tier_kernel(tier, kind)
    if V != NULL:
        results.append((_rate(share, n, 0, V, 2.0 * V.mr * 16 * 256),
                        f"{V.name.decode()} on L1-resident panels"))
    return max(results)
