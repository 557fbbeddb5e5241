/* Exact u8 x s8 GEMM micro-kernel, 6x16, AVX-VNNI (VEX-encoded 256-bit vpdpbusd, as on Alder
 * Lake and later without AVX-512).  Same operands and exactness as
 * u8s8-gemm-8x16-avx512vnni.h with 6-row A slivers: a[(kq*6 + r)*4 + (k & 3)]; 16 columns are
 * two ymm, so 12 accumulators + 2 B vectors + 1 broadcast registers.
 */
#ifndef CONVT_U8S8_GEMM_6X16_AVXVNNI_H
#define CONVT_U8S8_GEMM_6X16_AVXVNNI_H

#include <stdint.h>
#include <string.h>
#include "../cpu.h"
#include "../ukr.h"

#if defined(CONVT_USE_SIMDE)
#define convt_mm256_dpbusd_vex _mm256_dpbusd_epi32  /* same operation, EVEX form in SIMDe */
#else
#define convt_mm256_dpbusd_vex _mm256_dpbusd_avx_epi32
#endif

#define CONVT_AVXVNNI_ROW(R)                                                               \
    if (MR_ > R) {                                                                         \
        int32_t q;                                                                         \
        memcpy(&q, a + 4 * R, 4);                                                          \
        const __m256i av = _mm256_set1_epi32(q);                                           \
        c##R##0 = convt_mm256_dpbusd_vex(c##R##0, b0, av);                                 \
        c##R##1 = convt_mm256_dpbusd_vex(c##R##1, b1, av);                                 \
    }
#define CONVT_AVXVNNI_STORE(R)                                                             \
    if (MR_ > R) {                                                                         \
        int32_t *cr = c + R * ldc;                                                         \
        if (accumulate) {                                                                  \
            c##R##0 = _mm256_add_epi32(c##R##0, _mm256_loadu_si256((const __m256i *)cr));  \
            c##R##1 = _mm256_add_epi32(c##R##1, _mm256_loadu_si256((const __m256i *)(cr + 8))); \
        }                                                                                  \
        _mm256_storeu_si256((__m256i *)cr, c##R##0);                                       \
        _mm256_storeu_si256((__m256i *)(cr + 8), c##R##1);                                 \
    }

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVXVNNI void
convt_u8s8_gemm_6x16_avxvnni_rows(const int MR_, int64_t nseg, const convt_bseg *seg, const int8_t *a,
                                  int32_t *c, int64_t ldc, int accumulate)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n / 4;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const uint8_t *b = (const uint8_t *)bs;
            /* columns 0-7 and 8-15, each lane one column's quad */
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
            CONVT_AVXVNNI_ROW(0)
            CONVT_AVXVNNI_ROW(1)
            CONVT_AVXVNNI_ROW(2)
            CONVT_AVXVNNI_ROW(3)
            CONVT_AVXVNNI_ROW(4)
            CONVT_AVXVNNI_ROW(5)
            a += 4 * 6;
        }
    }
    CONVT_AVXVNNI_STORE(0)
    CONVT_AVXVNNI_STORE(1)
    CONVT_AVXVNNI_STORE(2)
    CONVT_AVXVNNI_STORE(3)
    CONVT_AVXVNNI_STORE(4)
    CONVT_AVXVNNI_STORE(5)
}
#undef CONVT_AVXVNNI_ROW
#undef CONVT_AVXVNNI_STORE

static CONVT_TARGET_AVXVNNI void
convt_u8s8_gemm_6x16_avxvnni(int64_t nseg, const convt_bseg *seg, const void *av, void *cv, int64_t ldc,
                             int accumulate, int mr)
{
    const int8_t *a = (const int8_t *)av;
    int32_t *c = (int32_t *)cv;
    switch (mr) {
    case 6: convt_u8s8_gemm_6x16_avxvnni_rows(6, nseg, seg, a, c, ldc, accumulate); break;
    case 5: convt_u8s8_gemm_6x16_avxvnni_rows(5, nseg, seg, a, c, ldc, accumulate); break;
    case 4: convt_u8s8_gemm_6x16_avxvnni_rows(4, nseg, seg, a, c, ldc, accumulate); break;
    case 3: convt_u8s8_gemm_6x16_avxvnni_rows(3, nseg, seg, a, c, ldc, accumulate); break;
    case 2: convt_u8s8_gemm_6x16_avxvnni_rows(2, nseg, seg, a, c, ldc, accumulate); break;
    default: convt_u8s8_gemm_6x16_avxvnni_rows(1, nseg, seg, a, c, ldc, accumulate); break;
    }
}

#endif
