/* f32 GEMM micro-kernels: C[mr x 16] (+)= A[mr x kc] * B[kc x 16].
 *
 * Packed operands (shared by every variant, so one plan serves all ISAs):
 *   A sliver: kc steps of CONVT_MR floats (row r of step k at a[k*MR + r]); rows >= mr are
 *             present (zero padded) but not stored.
 *   B sliver: kc steps of CONVT_NR floats (column j of step k at b[k*NR + j]).
 *   C:        row-major with leading dimension ldc; all 16 columns of rows < mr are written.
 * accumulate = 0 overwrites C, 1 adds to it (K blocking).
 */
#ifndef CONVT_GEMM_F32_H
#define CONVT_GEMM_F32_H

#include <stdint.h>
#include "cpu.h"

#define CONVT_MR 6
#define CONVT_NR 16

typedef void (*convt_f32_ukr_fn)(int64_t kc, const float *a, const float *b, float *c,
                                 int64_t ldc, int accumulate, int mr);

/* ---------------------------------------------------------------- portable (any CPU) */
static void convt_f32_ukr_portable(int64_t kc, const float *a, const float *b, float *c,
                                   int64_t ldc, int accumulate, int mr)
{
    float acc[CONVT_MR][CONVT_NR];
    for (int r = 0; r < CONVT_MR; ++r)
        for (int j = 0; j < CONVT_NR; ++j) acc[r][j] = 0.0f;
    for (int64_t k = 0; k < kc; ++k) {
        for (int r = 0; r < CONVT_MR; ++r) {
            const float ar = a[r];
            for (int j = 0; j < CONVT_NR; ++j) acc[r][j] += ar * b[j];
        }
        a += CONVT_MR;
        b += CONVT_NR;
    }
    for (int r = 0; r < mr; ++r) {
        float *cr = c + r * ldc;
        if (accumulate)
            for (int j = 0; j < CONVT_NR; ++j) cr[j] += acc[r][j];
        else
            for (int j = 0; j < CONVT_NR; ++j) cr[j] = acc[r][j];
    }
}

/* ---------------------------------------------------------------- AVX2 + FMA, 6x16 */
#if CONVT_HAVE_AVX2_KERNELS
#include <immintrin.h>

#if defined(__GNUC__) || defined(__clang__)
#define CONVT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define CONVT_ALWAYS_INLINE __forceinline
#endif

/* 12 accumulators + 2 B vectors + 1 broadcast = 15 ymm registers: no spills (checked with
 * objdump). MR_ is a compile-time constant in every instantiation, so unused rows vanish. */
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

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_ukr_avx2_rows(const int MR_, int64_t kc, const float *a, const float *b, float *c,
                        int64_t ldc, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        CONVT_ROW_FMA(0)
        CONVT_ROW_FMA(1)
        CONVT_ROW_FMA(2)
        CONVT_ROW_FMA(3)
        CONVT_ROW_FMA(4)
        CONVT_ROW_FMA(5)
        a += CONVT_MR;
        b += CONVT_NR;
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

static CONVT_TARGET_AVX2 void convt_f32_ukr_avx2(int64_t kc, const float *a, const float *b,
                                                 float *c, int64_t ldc, int accumulate, int mr)
{
    switch (mr) {
    case 6: convt_f32_ukr_avx2_rows(6, kc, a, b, c, ldc, accumulate); break;
    case 5: convt_f32_ukr_avx2_rows(5, kc, a, b, c, ldc, accumulate); break;
    case 4: convt_f32_ukr_avx2_rows(4, kc, a, b, c, ldc, accumulate); break;
    case 3: convt_f32_ukr_avx2_rows(3, kc, a, b, c, ldc, accumulate); break;
    case 2: convt_f32_ukr_avx2_rows(2, kc, a, b, c, ldc, accumulate); break;
    default: convt_f32_ukr_avx2_rows(1, kc, a, b, c, ldc, accumulate); break;
    }
}
#else
/* No AVX2 variant on this architecture: the name resolves to the portable kernel. */
#define convt_f32_ukr_avx2 convt_f32_ukr_portable
#endif /* CONVT_HAVE_AVX2_KERNELS */

/* ---------------------------------------------------------------- AArch64 NEON, 6x16 */
#if CONVT_HAVE_NEON_KERNELS
#include <arm_neon.h>

/* 24 accumulators (6 rows x 4 quads) + 4 B quads + 2 A quads of the 32 vector registers. */
static void convt_f32_ukr_neon(int64_t kc, const float *a, const float *b, float *c,
                               int64_t ldc, int accumulate, int mr)
{
    float32x4_t acc[CONVT_MR][4];
    for (int r = 0; r < CONVT_MR; ++r)
        for (int q = 0; q < 4; ++q) acc[r][q] = vdupq_n_f32(0.0f);
    for (int64_t k = 0; k < kc; ++k) {
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        const float32x4_t b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
        const float32x4_t a03 = vld1q_f32(a);
        const float32x2_t a45 = vld1_f32(a + 4);
#define CONVT_NEON_ROW(R, AV, L)                                                       \
        acc[R][0] = vfmaq_laneq_f32(acc[R][0], b0, AV, L);                            \
        acc[R][1] = vfmaq_laneq_f32(acc[R][1], b1, AV, L);                            \
        acc[R][2] = vfmaq_laneq_f32(acc[R][2], b2, AV, L);                            \
        acc[R][3] = vfmaq_laneq_f32(acc[R][3], b3, AV, L);
        CONVT_NEON_ROW(0, a03, 0)
        CONVT_NEON_ROW(1, a03, 1)
        CONVT_NEON_ROW(2, a03, 2)
        CONVT_NEON_ROW(3, a03, 3)
#undef CONVT_NEON_ROW
        acc[4][0] = vfmaq_lane_f32(acc[4][0], b0, a45, 0);
        acc[4][1] = vfmaq_lane_f32(acc[4][1], b1, a45, 0);
        acc[4][2] = vfmaq_lane_f32(acc[4][2], b2, a45, 0);
        acc[4][3] = vfmaq_lane_f32(acc[4][3], b3, a45, 0);
        acc[5][0] = vfmaq_lane_f32(acc[5][0], b0, a45, 1);
        acc[5][1] = vfmaq_lane_f32(acc[5][1], b1, a45, 1);
        acc[5][2] = vfmaq_lane_f32(acc[5][2], b2, a45, 1);
        acc[5][3] = vfmaq_lane_f32(acc[5][3], b3, a45, 1);
        a += CONVT_MR;
        b += CONVT_NR;
    }
    for (int r = 0; r < mr; ++r) {
        float *cr = c + r * ldc;
        for (int q = 0; q < 4; ++q) {
            float32x4_t v = acc[r][q];
            if (accumulate) v = vaddq_f32(v, vld1q_f32(cr + 4 * q));
            vst1q_f32(cr + 4 * q, v);
        }
    }
}
#else
#define convt_f32_ukr_neon convt_f32_ukr_portable
#endif

#endif
