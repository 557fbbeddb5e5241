/* f32 GEMM micro-kernel, 8x16, AVX-512: the 12x16 kernel's body (f32-gemm-12x16-avx512.h)
 * with 8-row A slivers (a[k*8 + r]); the tier takes it when 12-row tiles would pad the output
 * channels much more. */
#ifndef CONVT_F32_GEMM_8X16_AVX512_H
#define CONVT_F32_GEMM_8X16_AVX512_H

#include "f32-gemm-12x16-avx512.h"

static CONVT_TARGET_AVX512 void convt_f32_gemm_8x16_avx512(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                                          int64_t ldc, int accumulate, int mr)
{
    const float *a = (const float *)av;
    float *c = (float *)cv;
    switch (mr) {
#define CONVT_Z_CASE(M) case M: convt_f32_gemm_avx512_rows(8, M, nseg, seg, a, c, ldc, accumulate); break;
    CONVT_Z_CASE(8) CONVT_Z_CASE(7) CONVT_Z_CASE(6) CONVT_Z_CASE(5) CONVT_Z_CASE(4)
    CONVT_Z_CASE(3) CONVT_Z_CASE(2)
#undef CONVT_Z_CASE
    default: convt_f32_gemm_avx512_rows(8, 1, nseg, seg, a, c, ldc, accumulate); break;
    }
}

#endif
