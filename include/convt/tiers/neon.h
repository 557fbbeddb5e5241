/* Tier "neon": AArch64 Advanced SIMD (baseline there: no runtime check).  The shared code is
 * compiled for the baseline, which already has NEON. */
#include "../kernels/f32-gemm-6x16-neon.h"
#include "../kernels/s16-gemm-6x16-neon.h"

static const convt_gemm_kernel convt_f32_gemm_neon =
    CONVT_F32_VARIANT("f32-gemm-6x16-neon", 6, convt_f32_gemm_6x16_neon, portable);
static const convt_gemm_kernel convt_s16_gemm_neon =
    CONVT_S16_VARIANT("s16-gemm-6x16-neon", 6, convt_s16_gemm_6x16_neon, portable);

static const convt_tier convt_tier_neon = {
    "neon", CONVT_F_NEON, &convt_f32_gemm_neon, &convt_s16_gemm_neon, &convt_s16_gemm_neon,
    NULL, NULL, convt_direct_portable};
