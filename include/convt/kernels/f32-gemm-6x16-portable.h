/* f32 GEMM micro-kernel, 6x16, plain C (any CPU; the compiler's baseline vectors).
 * A sliver: kc steps of 6 floats (a[k*6 + r]); B sliver: kc steps of 16 (b[k*16 + j]). */
#ifndef CONVT_F32_GEMM_6X16_PORTABLE_H
#define CONVT_F32_GEMM_6X16_PORTABLE_H

#include <stdint.h>
#include "../ukr.h"

static void convt_f32_gemm_6x16_portable(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                         int64_t ldc, int accumulate, int mr)
{
    const float *a = (const float *)av;
    float *c = (float *)cv;
    float acc[6][16];
    for (int r = 0; r < 6; ++r)
        for (int j = 0; j < 16; ++j) acc[r][j] = 0.0f;
    for (int64_t sg = 0; sg < nseg; ++sg) {
        const char *bs = (const char *)seg[sg].b;
        const int64_t ld = seg[sg].ld, steps = seg[sg].n;
        for (int64_t k = 0; k < steps; ++k, bs += ld) {
            const float *b = (const float *)bs;
            for (int r = 0; r < 6; ++r) {
                const float ar = a[r];
                for (int j = 0; j < 16; ++j) acc[r][j] += ar * b[j];
            }
            a += 6;
        }
    }
    for (int r = 0; r < mr; ++r) {
        float *cr = c + r * ldc;
        if (accumulate)
            for (int j = 0; j < 16; ++j) cr[j] += acc[r][j];
        else
            for (int j = 0; j < 16; ++j) cr[j] = acc[r][j];
    }
}

#endif
