/* Tier "avx512": AVX-512 F/BW/VL/DQ (Skylake-SP and later, Zen4).  Float: 12x16 zmm kernel
 * (8x16 for few channels); int8: the AVX2 int16 kernel; packing, epilogues and direct kernels
 * compiled for AVX-512. */
#include "../kernels/f32-gemm-12x16-avx512.h"
#include "../kernels/f32-gemm-8x16-avx512.h"

static CONVT_TARGET_AVX512 void convt_f32_terms2_avx512(float *acc0, float *acc1,
                                                        const convt_direct_terms *T,
                                                        int64_t step, int c, int64_t m0,
                                                        int64_t n, int finish, float b)
{
    convt_f32_terms2_avx512_impl(acc0, acc1, T, step, c, m0, n, finish, b);
}

CONVT_INSTANTIATE_SHARED(avx512, CONVT_TARGET_AVX512, convt_requant16_avx512,
                         convt_f32_runs_avx512_impl, convt_f32_terms_avx512_impl,
                         convt_f32_terms2_avx512, convt_s32_axpy4_avx2_impl)

static const convt_gemm_kernel convt_f32_gemm_avx512 =
    CONVT_F32_VARIANT("f32-gemm-12x16-avx512", 12, convt_f32_gemm_12x16_avx512, avx512);
static const convt_gemm_kernel convt_f32_gemm_8_avx512 =
    CONVT_F32_VARIANT("f32-gemm-8x16-avx512", 8, convt_f32_gemm_8x16_avx512, avx512);
static const convt_gemm_kernel convt_s16_gemm_avx512 =
    CONVT_S16_VARIANT("s16-gemm-6x16-avx2", 6, convt_s16_gemm_6x16_avx2, avx512);

static const convt_tier convt_tier_avx512 = {
    "avx512", CONVT_F_AVX2 | CONVT_F_AVX512, &convt_f32_gemm_avx512, &convt_s16_gemm_avx512,
    &convt_s16_gemm_avx512, &convt_f32_gemm_8_avx512, NULL, convt_direct_avx512};
