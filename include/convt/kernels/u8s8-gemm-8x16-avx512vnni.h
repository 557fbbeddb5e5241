/* Exact u8 x s8 GEMM micro-kernel, 8x16, AVX512-VNNI: the 12x16 kernel's body
 * (u8s8-gemm-12x16-avx512vnni.h) with 8-row A slivers, a[(kq*8 + r)*4 + (k & 3)]; the tier
 * takes it when 12-row tiles would pad the output channels much more. */
#ifndef CONVT_U8S8_GEMM_8X16_AVX512VNNI_H
#define CONVT_U8S8_GEMM_8X16_AVX512VNNI_H

#include "u8s8-gemm-12x16-avx512vnni.h"

static CONVT_TARGET_AVX512VNNI void
convt_u8s8_gemm_8x16_avx512vnni(int64_t nseg, const convt_bseg *seg, const void *av, void *cv,
                                int64_t ldc, int accumulate, int mr)
{
    const int8_t *a = (const int8_t *)av;
    int32_t *c = (int32_t *)cv;
    switch (mr) {
#define CONVT_VNNI_CASE(M) \
    case M: convt_u8s8_gemm_avx512vnni_rows(8, M, nseg, seg, a, c, ldc, accumulate); break;
    CONVT_VNNI_CASE(8) CONVT_VNNI_CASE(7) CONVT_VNNI_CASE(6) CONVT_VNNI_CASE(5)
    CONVT_VNNI_CASE(4) CONVT_VNNI_CASE(3) CONVT_VNNI_CASE(2)
#undef CONVT_VNNI_CASE
    default: convt_u8s8_gemm_avx512vnni_rows(8, 1, nseg, seg, a, c, ldc, accumulate); break;
    }
}

#endif
