/* Tier "portable": plain C, any CPU; always correct, always present. */
#include "../kernels/f32-gemm-6x16-portable.h"
#include "../kernels/s16-gemm-6x16-portable.h"

CONVT_INSTANTIATE_SHARED(portable, , convt_requant16, convt_f32_runs_impl,
                         convt_f32_terms_plain_impl, NULL, convt_s32_axpy4_impl)

static const convt_gemm_kernel convt_f32_gemm_portable =
    CONVT_F32_VARIANT("f32-gemm-6x16-portable", 6, convt_f32_gemm_6x16_portable, portable);
static const convt_gemm_kernel convt_s16_gemm_portable =
    CONVT_S16_VARIANT("s16-gemm-6x16-portable", 6, convt_s16_gemm_6x16_portable, portable);

static const convt_tier convt_tier_portable = {
    "portable", 0, &convt_f32_gemm_portable, &convt_s16_gemm_portable, &convt_s16_gemm_portable,
    NULL, NULL, convt_direct_portable};
