/* Tier "avx2": AVX2 + FMA (x86-64 since Haswell / Zen1). */
#include "../kernels/f32-gemm-6x16-avx2.h"
#include "../kernels/s16-gemm-6x16-avx2.h"

CONVT_INSTANTIATE_SHARED(avx2, CONVT_TARGET_AVX2, convt_requant16_avx2, convt_f32_runs_avx2_impl,
                         convt_f32_terms_fma_impl, NULL, convt_s32_axpy4_avx2_impl)

static const convt_gemm_kernel convt_f32_gemm_avx2 =
    CONVT_F32_VARIANT("f32-gemm-6x16-avx2", 6, convt_f32_gemm_6x16_avx2, avx2);
static const convt_gemm_kernel convt_s16_gemm_avx2 =
    CONVT_S16_VARIANT("s16-gemm-6x16-avx2", 6, convt_s16_gemm_6x16_avx2, avx2);

static const convt_tier convt_tier_avx2 = {
    "avx2", CONVT_F_AVX2, &convt_f32_gemm_avx2, &convt_s16_gemm_avx2, &convt_s16_gemm_avx2,
    NULL, NULL, convt_direct_avx2};
