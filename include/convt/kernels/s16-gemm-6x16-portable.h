/* Exact integer GEMM micro-kernel, 6x16, plain C:
 *     C[mr x 16] (+)= A[mr x kc] * B[kc x 16],  int16 operands, int32 accumulators, kc even.
 *
 * Operands hold zero-point-free values (x - zx, w - zw), each in [-255, 255], so a product
 * pair sums to at most 2 * 255 * 255 < 2^31: vpmaddwd is exact (unlike vpmaddubsw, which
 * saturates to int16).  Accumulation wraps modulo 2^32 like every int32 accumulator.
 *
 * Packed operands, in pairs of consecutive k:
 *   A sliver: kc/2 steps of 6 pairs:  a[(kp*MR + r)*2 + (k & 1)]
 *   B sliver: kc/2 steps of 16 pairs:  b[(kp*NR + j)*2 + (k & 1)]
 */
#ifndef CONVT_S16_GEMM_6X16_PORTABLE_H
#define CONVT_S16_GEMM_6X16_PORTABLE_H

#include <stdint.h>
#include "../ukr.h"

static void convt_s16_gemm_6x16_portable(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                         int64_t ldc, int accumulate, int mr)
{
    const int16_t *a = (const int16_t *)av;
    int32_t *c = (int32_t *)cv;
    int64_t acc[6][16];
    for (int r = 0; r < 6; ++r)
        for (int j = 0; j < 16; ++j) acc[r][j] = 0;
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n / 2;
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const int16_t *b = (const int16_t *)bs;
            for (int r = 0; r < 6; ++r) {
                const int32_t a0 = a[2 * r], a1 = a[2 * r + 1];
                for (int j = 0; j < 16; ++j)
                    acc[r][j] += a0 * (int32_t)b[2 * j] + a1 * (int32_t)b[2 * j + 1];
            }
            a += 2 * 6;
        }
    }
    /* Truncation to 32 bits = the int32 wrap-around of the vector kernel. */
    for (int r = 0; r < mr; ++r) {
        int32_t *cr = c + r * ldc;
        for (int j = 0; j < 16; ++j) {
            const uint32_t v = (uint32_t)acc[r][j] + (accumulate ? (uint32_t)cr[j] : 0u);
            cr[j] = (int32_t)v;
        }
    }
}

#endif
