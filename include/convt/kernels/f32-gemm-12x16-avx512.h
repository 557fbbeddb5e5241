/* f32 GEMM micro-kernel, 12x16, AVX-512: one zmm accumulator per row (12), one B vector a
 * step and the weights as embedded broadcasts ({1to16} memory operands), so a step is 12 FMAs
 * and 13 loads.  A sliver: kc steps of 12 floats (a[k*12 + r]); B as every f32 kernel. */
#ifndef CONVT_F32_GEMM_12X16_AVX512_H
#define CONVT_F32_GEMM_12X16_AVX512_H

#include <stdint.h>
#include "../cpu.h"
#include "../ukr.h"

#define CONVT_Z_FMA(R) if (MR_ > R) c##R = _mm512_fmadd_ps(_mm512_set1_ps(a[R]), bv, c##R);
#define CONVT_Z_STORE(R)                                                                   \
    if (MR_ > R) {                                                                         \
        float *cr = c + R * ldc;                                                           \
        if (accumulate) c##R = _mm512_add_ps(c##R, _mm512_loadu_ps(cr));                   \
        _mm512_storeu_ps(cr, c##R);                                                        \
    }

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_f32_gemm_avx512_rows(const int MRA, const int MR_, int64_t nseg, const convt_bseg *seg, const float *a,
                                 float *c, int64_t ldc, int accumulate)
{
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const float *b = (const float *)bs;
            const __m512 bv = _mm512_loadu_ps(b);
            CONVT_Z_FMA(0) CONVT_Z_FMA(1) CONVT_Z_FMA(2) CONVT_Z_FMA(3)
            CONVT_Z_FMA(4) CONVT_Z_FMA(5) CONVT_Z_FMA(6) CONVT_Z_FMA(7)
            CONVT_Z_FMA(8) CONVT_Z_FMA(9) CONVT_Z_FMA(10) CONVT_Z_FMA(11)
            a += MRA;
        }
    }
    CONVT_Z_STORE(0) CONVT_Z_STORE(1) CONVT_Z_STORE(2) CONVT_Z_STORE(3)
    CONVT_Z_STORE(4) CONVT_Z_STORE(5) CONVT_Z_STORE(6) CONVT_Z_STORE(7)
    CONVT_Z_STORE(8) CONVT_Z_STORE(9) CONVT_Z_STORE(10) CONVT_Z_STORE(11)
}
#undef CONVT_Z_FMA
#undef CONVT_Z_STORE

static CONVT_TARGET_AVX512 void convt_f32_gemm_12x16_avx512(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                                           int64_t ldc, int accumulate, int mr)
{
    const float *a = (const float *)av;
    float *c = (float *)cv;
    switch (mr) {
#define CONVT_Z_CASE(M) case M: convt_f32_gemm_avx512_rows(12, M, nseg, seg, a, c, ldc, accumulate); break;
    CONVT_Z_CASE(12) CONVT_Z_CASE(11) CONVT_Z_CASE(10) CONVT_Z_CASE(9) CONVT_Z_CASE(8)
    CONVT_Z_CASE(7) CONVT_Z_CASE(6) CONVT_Z_CASE(5) CONVT_Z_CASE(4) CONVT_Z_CASE(3)
    CONVT_Z_CASE(2)
#undef CONVT_Z_CASE
    default: convt_f32_gemm_avx512_rows(12, 1, nseg, seg, a, c, ldc, accumulate); break;
    }
}

#endif
