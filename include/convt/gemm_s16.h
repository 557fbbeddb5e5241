/* Exact integer GEMM micro-kernels for the quantized path:
 *     C[mr x 16] (+)= A[mr x kc] * B[kc x 16],  int16 operands, int32 accumulators, kc even.
 *
 * Operands hold zero-point-free values (x - zx, w - zw), each in [-255, 255], so a product
 * pair sums to at most 2 * 255 * 255 < 2^31: vpmaddwd is exact (unlike vpmaddubsw, which
 * saturates to int16).  Accumulation wraps modulo 2^32 like every int32 accumulator.
 *
 * Packed operands, in pairs of consecutive k:
 *   A sliver: kc/2 steps of CONVT_MR pairs:  a[(kp*MR + r)*2 + (k & 1)]
 *   B sliver: kc/2 steps of CONVT_NR pairs:  b[(kp*NR + j)*2 + (k & 1)]
 */
#ifndef CONVT_GEMM_S16_H
#define CONVT_GEMM_S16_H

#include <stdint.h>
#include "gemm_f32.h"

typedef void (*convt_s16_ukr_fn)(int64_t kc, const int16_t *a, const int16_t *b, int32_t *c,
                                 int64_t ldc, int accumulate, int mr);

static void convt_s16_ukr_portable(int64_t kc, const int16_t *a, const int16_t *b, int32_t *c,
                                   int64_t ldc, int accumulate, int mr)
{
    int64_t acc[CONVT_MR][CONVT_NR];
    for (int r = 0; r < CONVT_MR; ++r)
        for (int j = 0; j < CONVT_NR; ++j) acc[r][j] = 0;
    for (int64_t kp = 0; kp < kc / 2; ++kp) {
        for (int r = 0; r < CONVT_MR; ++r) {
            const int32_t a0 = a[2 * r], a1 = a[2 * r + 1];
            for (int j = 0; j < CONVT_NR; ++j)
                acc[r][j] += a0 * (int32_t)b[2 * j] + a1 * (int32_t)b[2 * j + 1];
        }
        a += 2 * CONVT_MR;
        b += 2 * CONVT_NR;
    }
    /* Truncation to 32 bits = the int32 wrap-around of the vector kernel. */
    for (int r = 0; r < mr; ++r) {
        int32_t *cr = c + r * ldc;
        for (int j = 0; j < CONVT_NR; ++j) {
            const uint32_t v = (uint32_t)acc[r][j] + (accumulate ? (uint32_t)cr[j] : 0u);
            cr[j] = (int32_t)v;
        }
    }
}

#if CONVT_HAVE_AVX2_KERNELS
#include <immintrin.h>

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
convt_s16_ukr_avx2_rows(const int MR_, int64_t kc, const int16_t *a, const int16_t *b,
                        int32_t *c, int64_t ldc, int accumulate)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (int64_t kp = 0; kp < kc / 2; ++kp) {
        /* columns 0-7 and 8-15, each lane one column's (k, k+1) pair */
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        CONVT_S16_ROW(0)
        CONVT_S16_ROW(1)
        CONVT_S16_ROW(2)
        CONVT_S16_ROW(3)
        CONVT_S16_ROW(4)
        CONVT_S16_ROW(5)
        a += 2 * CONVT_MR;
        b += 2 * CONVT_NR;
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

static CONVT_TARGET_AVX2 void convt_s16_ukr_avx2(int64_t kc, const int16_t *a, const int16_t *b,
                                                 int32_t *c, int64_t ldc, int accumulate, int mr)
{
    switch (mr) {
    case 6: convt_s16_ukr_avx2_rows(6, kc, a, b, c, ldc, accumulate); break;
    case 5: convt_s16_ukr_avx2_rows(5, kc, a, b, c, ldc, accumulate); break;
    case 4: convt_s16_ukr_avx2_rows(4, kc, a, b, c, ldc, accumulate); break;
    case 3: convt_s16_ukr_avx2_rows(3, kc, a, b, c, ldc, accumulate); break;
    case 2: convt_s16_ukr_avx2_rows(2, kc, a, b, c, ldc, accumulate); break;
    default: convt_s16_ukr_avx2_rows(1, kc, a, b, c, ldc, accumulate); break;
    }
}
#else
#define convt_s16_ukr_avx2 convt_s16_ukr_portable
#endif

#if CONVT_HAVE_NEON_KERNELS
#include <arm_neon.h>

/* Exact: vld2 splits each column's (k, k+1) pair into even/odd lanes; smlal widens the int16
 * products into int32 accumulators (wrapping like every int32 accumulator). */
static void convt_s16_ukr_neon(int64_t kc, const int16_t *a, const int16_t *b, int32_t *c,
                               int64_t ldc, int accumulate, int mr)
{
    int32x4_t acc[CONVT_MR][4];
    for (int r = 0; r < CONVT_MR; ++r)
        for (int q = 0; q < 4; ++q) acc[r][q] = vdupq_n_s32(0);
    for (int64_t kp = 0; kp < kc / 2; ++kp) {
        const int16x8x2_t lo = vld2q_s16(b);       /* columns 0-7: val[0] k, val[1] k+1 */
        const int16x8x2_t hi = vld2q_s16(b + 16);  /* columns 8-15 */
        for (int r = 0; r < CONVT_MR; ++r) {
            const int16_t a0 = a[2 * r], a1 = a[2 * r + 1];
            acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(lo.val[0]), a0);
            acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(lo.val[1]), a1);
            acc[r][1] = vmlal_n_s16(acc[r][1], vget_high_s16(lo.val[0]), a0);
            acc[r][1] = vmlal_n_s16(acc[r][1], vget_high_s16(lo.val[1]), a1);
            acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(hi.val[0]), a0);
            acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(hi.val[1]), a1);
            acc[r][3] = vmlal_n_s16(acc[r][3], vget_high_s16(hi.val[0]), a0);
            acc[r][3] = vmlal_n_s16(acc[r][3], vget_high_s16(hi.val[1]), a1);
        }
        a += 2 * CONVT_MR;
        b += 2 * CONVT_NR;
    }
    for (int r = 0; r < mr; ++r) {
        int32_t *cr = c + r * ldc;
        for (int q = 0; q < 4; ++q) {
            int32x4_t v = acc[r][q];
            if (accumulate) v = vaddq_s32(v, vld1q_s32(cr + 4 * q));
            vst1q_s32(cr + 4 * q, v);
        }
    }
}
#else
#define convt_s16_ukr_neon convt_s16_ukr_portable
#endif

#endif
