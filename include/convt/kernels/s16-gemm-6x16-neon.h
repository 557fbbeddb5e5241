/* Exact int16-pair GEMM micro-kernel, 6x16, AArch64 NEON (layout: s16-gemm-6x16-portable.h). */
#ifndef CONVT_S16_GEMM_6X16_NEON_H
#define CONVT_S16_GEMM_6X16_NEON_H

#include <stdint.h>
#include "../cpu.h"
#include "../ukr.h"

/* Exact: vld2 splits each column's (k, k+1) pair into even/odd lanes; smlal widens the int16
 * products into int32 accumulators (wrapping like every int32 accumulator). */
static void convt_s16_gemm_6x16_neon(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                     int64_t ldc, int accumulate, int mr)
{
    const int16_t *a = (const int16_t *)av;
    int32_t *c = (int32_t *)cv;
    int32x4_t acc[6][4];
    for (int r = 0; r < 6; ++r)
        for (int q = 0; q < 4; ++q) acc[r][q] = vdupq_n_s32(0);
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n / 2;
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const int16_t *b = (const int16_t *)bs;
            const int16x8x2_t lo = vld2q_s16(b);       /* columns 0-7: val[0] k, val[1] k+1 */
            const int16x8x2_t hi = vld2q_s16(b + 16);  /* columns 8-15 */
            for (int r = 0; r < 6; ++r) {
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
            a += 2 * 6;
        }
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
#endif
