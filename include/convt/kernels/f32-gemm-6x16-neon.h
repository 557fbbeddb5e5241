/* f32 GEMM micro-kernel, 6x16, AArch64 NEON.  Layout as the portable 6x16 kernel. */
#ifndef CONVT_F32_GEMM_6X16_NEON_H
#define CONVT_F32_GEMM_6X16_NEON_H

#include <stdint.h>
#include "../cpu.h"
#include "../ukr.h"

/* 24 accumulators (6 rows x 4 quads) + 4 B quads + 2 A quads of the 32 vector registers. */
static void convt_f32_gemm_6x16_neon(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                     int64_t ldc, int accumulate, int mr)
{
    const float *a = (const float *)av;
    float *c = (float *)cv;
    float32x4_t acc[6][4];
    for (int r = 0; r < 6; ++r)
        for (int q = 0; q < 4; ++q) acc[r][q] = vdupq_n_f32(0.0f);
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n;
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const float *b = (const float *)bs;
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
            a += 6;
        }
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
#endif
