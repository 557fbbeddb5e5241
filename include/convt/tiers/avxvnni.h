/* Tier "avxvnni": AVX2 + VEX-encoded VNNI (Alder Lake and later without AVX-512, Zen5
 * client parts): 256-bit vpdpbusd for int8 weights with zero point 0; the rest as avx2. */
#include "../kernels/u8s8-gemm-6x16-avxvnni.h"

CONVT_INSTANTIATE_U8X4(avx2, CONVT_TARGET_AVX2)

static const convt_gemm_kernel convt_u8s8_gemm_avxvnni =
    CONVT_U8S8_VARIANT("u8s8-gemm-6x16-avxvnni", 6, convt_u8s8_gemm_6x16_avxvnni, avx2);

static const convt_tier convt_tier_avxvnni = {
    "avxvnni", CONVT_F_AVX2 | CONVT_F_AVXVNNI, &convt_f32_gemm_avx2, &convt_u8s8_gemm_avxvnni,
    &convt_s16_gemm_avx2, NULL, NULL, convt_direct_avx2};
