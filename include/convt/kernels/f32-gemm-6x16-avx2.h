/* f32 GEMM micro-kernel, 6x16, AVX2 + FMA: 12 ymm accumulators + 2 B vectors + 1 broadcast
 * = 15 registers, no spills (checked with objdump).  Layout as the portable 6x16 kernel. */
#ifndef CONVT_F32_GEMM_6X16_AVX2_H
#define CONVT_F32_GEMM_6X16_AVX2_H

#include <stdint.h>
#include "../cpu.h"
#include "../ukr.h"

#define CONVT_ROW_FMA(R)                                                                   \
    if (MR_ > R) {                                                                         \
        const __m256 av = _mm256_broadcast_ss(a + R);                                      \
        c##R##0 = _mm256_fmadd_ps(av, b0, c##R##0);                                        \
        c##R##1 = _mm256_fmadd_ps(av, b1, c##R##1);                                        \
    }
#define CONVT_ROW_STORE(R)                                                                 \
    if (MR_ > R) {                                                                         \
        float *cr = c + R * ldc;                                                           \
        if (accumulate) {                                                                  \
            c##R##0 = _mm256_add_ps(c##R##0, _mm256_loadu_ps(cr));                         \
            c##R##1 = _mm256_add_ps(c##R##1, _mm256_loadu_ps(cr + 8));                     \
        }                                                                                  \
        _mm256_storeu_ps(cr, c##R##0);                                                     \
        _mm256_storeu_ps(cr + 8, c##R##1);                                                 \
    }

/* MR_ is a compile-time constant in every instantiation, so unused rows vanish. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_gemm_6x16_avx2_rows(const int MR_, int64_t nseg, const convt_bseg *seg, const float *a,
                              float *c, int64_t ldc, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const float *b = (const float *)bs;
            const __m256 b0 = _mm256_loadu_ps(b);
            const __m256 b1 = _mm256_loadu_ps(b + 8);
            CONVT_ROW_FMA(0)
            CONVT_ROW_FMA(1)
            CONVT_ROW_FMA(2)
            CONVT_ROW_FMA(3)
            CONVT_ROW_FMA(4)
            CONVT_ROW_FMA(5)
            a += 6;
        }
    }
    CONVT_ROW_STORE(0)
    CONVT_ROW_STORE(1)
    CONVT_ROW_STORE(2)
    CONVT_ROW_STORE(3)
    CONVT_ROW_STORE(4)
    CONVT_ROW_STORE(5)
}
#undef CONVT_ROW_FMA
#undef CONVT_ROW_STORE

static CONVT_TARGET_AVX2 void convt_f32_gemm_6x16_avx2(int64_t nseg, const convt_bseg *seg, const void *av, void *cv, int64_t ldc,
                                                       int accumulate, int mr)
{
    const float *a = (const float *)av;
    float *c = (float *)cv;
    switch (mr) {
    case 6: convt_f32_gemm_6x16_avx2_rows(6, nseg, seg, a, c, ldc, accumulate); break;
    case 5: convt_f32_gemm_6x16_avx2_rows(5, nseg, seg, a, c, ldc, accumulate); break;
    case 4: convt_f32_gemm_6x16_avx2_rows(4, nseg, seg, a, c, ldc, accumulate); break;
    case 3: convt_f32_gemm_6x16_avx2_rows(3, nseg, seg, a, c, ldc, accumulate); break;
    case 2: convt_f32_gemm_6x16_avx2_rows(2, nseg, seg, a, c, ldc, accumulate); break;
    default: convt_f32_gemm_6x16_avx2_rows(1, nseg, seg, a, c, ldc, accumulate); break;
    }
}

#endif
