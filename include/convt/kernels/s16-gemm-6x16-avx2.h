/* Exact int16-pair GEMM micro-kernel, 6x16, AVX2: vpmaddwd + vpaddd into 12 ymm int32
 * accumulators (layout: s16-gemm-6x16-portable.h). */
#ifndef CONVT_S16_GEMM_6X16_AVX2_H
#define CONVT_S16_GEMM_6X16_AVX2_H

#include <stdint.h>
#include "../cpu.h"
#include "../ukr.h"

#define CONVT_S16_ROW(R)                                                                   \
    if (MR_ > R) {                                                                         \
        const __m256i av = _mm256_set1_epi32(*(const int32_t *)(a + 2 * R));              \
        c##R##0 = _mm256_add_epi32(c##R##0, _mm256_madd_epi16(av, b0));                    \
        c##R##1 = _mm256_add_epi32(c##R##1, _mm256_madd_epi16(av, b1));                    \
    }
#define CONVT_S16_STORE(R)                                                                 \
    if (MR_ > R) {                                                                         \
        int32_t *cr = c + R * ldc;                                                         \
        if (accumulate) {                                                                  \
            c##R##0 = _mm256_add_epi32(c##R##0, _mm256_loadu_si256((const __m256i *)cr));  \
            c##R##1 = _mm256_add_epi32(c##R##1, _mm256_loadu_si256((const __m256i *)(cr + 8))); \
        }                                                                                  \
        _mm256_storeu_si256((__m256i *)cr, c##R##0);                                       \
        _mm256_storeu_si256((__m256i *)(cr + 8), c##R##1);                                 \
    }

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_s16_gemm_6x16_avx2_rows(const int MR_, int64_t nseg, const convt_bseg *seg, const int16_t *a,
                        int32_t *c, int64_t ldc, int accumulate)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n / 2;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const int16_t *b = (const int16_t *)bs;
            /* columns 0-7 and 8-15, each lane one column's (k, k+1) pair */
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
            CONVT_S16_ROW(0)
            CONVT_S16_ROW(1)
            CONVT_S16_ROW(2)
            CONVT_S16_ROW(3)
            CONVT_S16_ROW(4)
            CONVT_S16_ROW(5)
            a += 2 * 6;
        }
    }
    CONVT_S16_STORE(0)
    CONVT_S16_STORE(1)
    CONVT_S16_STORE(2)
    CONVT_S16_STORE(3)
    CONVT_S16_STORE(4)
    CONVT_S16_STORE(5)
}
#undef CONVT_S16_ROW
#undef CONVT_S16_STORE

static CONVT_TARGET_AVX2 void convt_s16_gemm_6x16_avx2(int64_t nseg, const convt_bseg *seg, const void *av, void *cv, int64_t ldc,
                                                       int accumulate, int mr)
{
    const int16_t *a = (const int16_t *)av;
    int32_t *c = (int32_t *)cv;
    switch (mr) {
    case 6: convt_s16_gemm_6x16_avx2_rows(6, nseg, seg, a, c, ldc, accumulate); break;
    case 5: convt_s16_gemm_6x16_avx2_rows(5, nseg, seg, a, c, ldc, accumulate); break;
    case 4: convt_s16_gemm_6x16_avx2_rows(4, nseg, seg, a, c, ldc, accumulate); break;
    case 3: convt_s16_gemm_6x16_avx2_rows(3, nseg, seg, a, c, ldc, accumulate); break;
    case 2: convt_s16_gemm_6x16_avx2_rows(2, nseg, seg, a, c, ldc, accumulate); break;
    default: convt_s16_gemm_6x16_avx2_rows(1, nseg, seg, a, c, ldc, accumulate); break;
    }
}
#endif
