/* Tier "avx512vnni": AVX-512 + VNNI (Cascade Lake, Ice Lake and later, Zen4/Zen5): exact
 * u8 x s8 vpdpbusd for int8 weights with zero point 0 (torch's qint8 weights are symmetric);
 * nonzero weight zero points take the int16 path.  Float as the avx512 tier. */
#include "../kernels/u8s8-gemm-12x16-avx512vnni.h"
#include "../kernels/u8s8-gemm-8x16-avx512vnni.h"

CONVT_INSTANTIATE_U8X4(avx512, CONVT_TARGET_AVX512)

static const convt_gemm_kernel convt_u8s8_gemm_avx512vnni =
    CONVT_U8S8_VARIANT("u8s8-gemm-12x16-avx512vnni", 12, convt_u8s8_gemm_12x16_avx512vnni, avx512);
static const convt_gemm_kernel convt_u8s8_gemm_8_avx512vnni =
    CONVT_U8S8_VARIANT("u8s8-gemm-8x16-avx512vnni", 8, convt_u8s8_gemm_8x16_avx512vnni, avx512);

static const convt_tier convt_tier_avx512vnni = {
    "avx512vnni", CONVT_F_AVX2 | CONVT_F_AVX512 | CONVT_F_AVX512VNNI, &convt_f32_gemm_avx512,
    &convt_u8s8_gemm_avx512vnni, &convt_s16_gemm_avx512, &convt_f32_gemm_8_avx512,
    &convt_u8s8_gemm_8_avx512vnni, convt_direct_avx512};
