/* Exact u8 x s8 GEMM micro-kernel, 12x16, AVX512-VNNI:
 *     C[mr x 16] (+)= A[mr x kc] * B[kc x 16],  A int8 weights, B uint8 activations,
 * int32 accumulators, kc a multiple of 4.  vpdpbusd (not the saturating vpdpbusds) adds four
 * u8 x s8 products to each int32 lane exactly; sums wrap modulo 2^32 like every int32
 * accumulator, so the results equal the int16 path's bit for bit.
 *
 * Packed operands, in quads of consecutive k:
 *   A sliver: kc/4 steps of 12 quads:  a[(kq*12 + r)*4 + (k & 3)] (one broadcast dword a row)
 *   B sliver: kc/4 steps of 16 quads:  b[(kq*16 + j)*4 + (k & 3)] (one zmm a step)
 * 12 zmm accumulators (one per row, 16 columns each), one B load per step and the weights as
 * broadcasts: a step is 12 vpdpbusd with 13 loads.  u8s8-gemm-8x16-avx512vnni.h instantiates the
 * same body with 8 rows.
 */
#ifndef CONVT_U8S8_GEMM_12X16_AVX512VNNI_H
#define CONVT_U8S8_GEMM_12X16_AVX512VNNI_H

#include <stdint.h>
#include <string.h>
#include "../cpu.h"
#include "../ukr.h"

static CONVT_ALWAYS_INLINE int32_t convt_load_quad(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#define CONVT_VNNI_ROW(R)                                                                  \
    if (MR_ > R) c##R = _mm512_dpbusd_epi32(c##R, bv, _mm512_set1_epi32(convt_load_quad(a + 4 * R)));
#define CONVT_VNNI_STORE(R)                                                                \
    if (MR_ > R) {                                                                         \
        int32_t *cr = c + R * ldc;                                                         \
        if (accumulate) c##R = _mm512_add_epi32(c##R, _mm512_loadu_si512((const void *)cr)); \
        _mm512_storeu_si512((void *)cr, c##R);                                             \
    }

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512VNNI void
convt_u8s8_gemm_avx512vnni_rows(const int MRA, const int MR_, int64_t nseg,
                                const convt_bseg *seg, const int8_t *a, int32_t *c, int64_t ldc, int accumulate)
{
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    __m512i c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n / 4;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const uint8_t *b = (const uint8_t *)bs;
            const __m512i bv = _mm512_loadu_si512((const void *)b);
            CONVT_VNNI_ROW(0)
            CONVT_VNNI_ROW(1)
            CONVT_VNNI_ROW(2)
            CONVT_VNNI_ROW(3)
            CONVT_VNNI_ROW(4)
            CONVT_VNNI_ROW(5)
            CONVT_VNNI_ROW(6)
            CONVT_VNNI_ROW(7)
            CONVT_VNNI_ROW(8)
            CONVT_VNNI_ROW(9)
            CONVT_VNNI_ROW(10)
            CONVT_VNNI_ROW(11)
            a += 4 * MRA;
        }
    }
    CONVT_VNNI_STORE(0)
    CONVT_VNNI_STORE(1)
    CONVT_VNNI_STORE(2)
    CONVT_VNNI_STORE(3)
    CONVT_VNNI_STORE(4)
    CONVT_VNNI_STORE(5)
    CONVT_VNNI_STORE(6)
    CONVT_VNNI_STORE(7)
    CONVT_VNNI_STORE(8)
    CONVT_VNNI_STORE(9)
    CONVT_VNNI_STORE(10)
    CONVT_VNNI_STORE(11)
}
#undef CONVT_VNNI_ROW
#undef CONVT_VNNI_STORE

static CONVT_TARGET_AVX512VNNI void
convt_u8s8_gemm_12x16_avx512vnni(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                int64_t ldc, int accumulate, int mr)
{
    const int8_t *a = (const int8_t *)av;
    int32_t *c = (int32_t *)cv;
    switch (mr) {
#define CONVT_VNNI_CASE(M) \
    case M: convt_u8s8_gemm_avx512vnni_rows(12, M, nseg, seg, a, c, ldc, accumulate); break;
    CONVT_VNNI_CASE(12) CONVT_VNNI_CASE(11) CONVT_VNNI_CASE(10) CONVT_VNNI_CASE(9)
    CONVT_VNNI_CASE(8) CONVT_VNNI_CASE(7) CONVT_VNNI_CASE(6) CONVT_VNNI_CASE(5)
    CONVT_VNNI_CASE(4) CONVT_VNNI_CASE(3) CONVT_VNNI_CASE(2)
#undef CONVT_VNNI_CASE
    default: convt_u8s8_gemm_avx512vnni_rows(12, 1, nseg, seg, a, c, ldc, accumulate); break;
    }
}

#endif
