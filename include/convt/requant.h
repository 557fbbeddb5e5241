/* Requantization of an exact int32 accumulator to uint8, bit-compatible with PyTorch's two
 * engines (shared/QUANT_SPEC.md; the per-channel constants are computed in Python,
 * convt/quantized/_requant.py, with the same float32 roundings):
 *
 *   fbgemm:  y = clamp(rint(f32(fma(bias[o], rcp[o], f32(acc)) * mult[o])) + zy, 0, 255)
 *   qnnpack: y = clamp(rint(f32(f32(acc + ibias[o]) * mult[o])) + zy, 0, 255)
 *
 * rint rounds half to even (the default rounding mode).  fbgemm's bias step is one fused
 * multiply-add, rounded once: FBGEMM's source writes bias * rcp + acc, and its AVX2 build
 * (-mfma) compiles that to vfmadd231ps (seen in torch 2.13's libtorch_cpu); every other step
 * is a separate float32 operation (-std=c11 keeps GCC from contracting them).
 */
#ifndef CONVT_REQUANT_H
#define CONVT_REQUANT_H

#include <math.h>
#include <stdint.h>
#include "cpu.h"

enum { CONVT_REQUANT_FBGEMM = 0, CONVT_REQUANT_QNNPACK = 1 };

typedef struct {
    int mode;
    int32_t zy;
    const float *mult;     /* fbgemm: M[o] = f32(a / sy); qnnpack: R[o] */
    const float *bias;     /* fbgemm: bias[o] (float32), 0 without bias */
    const float *rcp;      /* fbgemm: rcp[o] = f32(1 / (double) a[o]) */
    const int32_t *ibias;  /* qnnpack: quantized bias, 0 without bias */
} convt_requant;

/* clamp(round_half_even(v) + zy, 0, 255) without calls or branches, so loops vectorise:
 * adding and subtracting 1.5 * 2^23 rounds to the nearest even integer for |v| < 2^22 (the
 * default rounding mode; no fast-math), and larger |v| saturate the output anyway. */
static CONVT_ALWAYS_INLINE uint8_t convt_round_clamp(float v, float zy)
{
    const float big = 4194304.0f, magic = 12582912.0f;
    v = v < -big ? -big : (v > big ? big : v);
    float t = ((v + magic) - magic) + zy;
    t = t < 0.0f ? 0.0f : (t > 255.0f ? 255.0f : t);
    return (uint8_t)(int32_t)t;
}

/* a + b modulo 2^32, like every int32 accumulator. */
static inline int32_t convt_wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline uint8_t convt_requant_one(const convt_requant *q, int64_t o, int32_t acc)
{
    float v;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        v = fmaf(q->bias[o], q->rcp[o], (float)acc) * q->mult[o];
    } else {
        const int32_t a = (int32_t)((uint32_t)acc + (uint32_t)q->ibias[o]);
        v = (float)a * q->mult[o];
    }
    if (v != v) v = 0.0f;  /* NaN (only from non-finite constants) */
    return convt_round_clamp(v, (float)q->zy);
}

/* The same for 16 consecutive accumulators of output channel o, each plus ``add`` (the
 * zero-point compensation; wrapping).  Plain C; the x86 tiers use the intrinsic versions
 * below, which give the same bytes (round half to even by cvtps2dq in the default rounding
 * mode, saturating packs for the clamp, NaN -> 0 as in convt_requant_one). */
typedef void (*convt_requant16_fn)(const convt_requant *q, int64_t o, const int32_t *acc,
                                   int32_t add, uint8_t *dst);

static CONVT_ALWAYS_INLINE void convt_requant16(const convt_requant *q, int64_t o,
                                                const int32_t *CONVT_RESTRICT acc, int32_t add,
                                                uint8_t *CONVT_RESTRICT dst)
{
    /* convt_requant_one's steps, written so that the loops vectorise */
    const float m = q->mult[o], zy = (float)q->zy;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        const float b = q->bias[o], r = q->rcp[o];
        for (int j = 0; j < 16; ++j) {
            float v = fmaf(b, r, (float)convt_wrap_add(acc[j], add)) * m;
            v = v == v ? v : 0.0f;
            dst[j] = convt_round_clamp(v, zy);
        }
    } else {
        const int32_t ib = convt_wrap_add(q->ibias[o], add);
        for (int j = 0; j < 16; ++j) {
            float v = (float)convt_wrap_add(acc[j], ib) * m;
            v = v == v ? v : 0.0f;
            dst[j] = convt_round_clamp(v, zy);
        }
    }
}

#if CONVT_HAVE_X86_KERNELS
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_requant16_avx2(const convt_requant *q, int64_t o, const int32_t *CONVT_RESTRICT acc,
                     int32_t add, uint8_t *CONVT_RESTRICT dst)
{
    const __m256 m = _mm256_set1_ps(q->mult[o]), big = _mm256_set1_ps(4194304.0f);
    const __m256 nbig = _mm256_set1_ps(-4194304.0f);
    const __m256i zy = _mm256_set1_epi32(q->zy);
    __m256i a0 = _mm256_loadu_si256((const __m256i *)acc);
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(acc + 8));
    __m256 v0, v1;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        const __m256i ad = _mm256_set1_epi32(add);
        const __m256 b = _mm256_set1_ps(q->bias[o]), r = _mm256_set1_ps(q->rcp[o]);
        v0 = _mm256_mul_ps(_mm256_fmadd_ps(b, r, _mm256_cvtepi32_ps(_mm256_add_epi32(a0, ad))), m);
        v1 = _mm256_mul_ps(_mm256_fmadd_ps(b, r, _mm256_cvtepi32_ps(_mm256_add_epi32(a1, ad))), m);
    } else {
        const __m256i ib = _mm256_set1_epi32((int32_t)((uint32_t)q->ibias[o] + (uint32_t)add));
        v0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a0, ib)), m);
        v1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a1, ib)), m);
    }
    v0 = _mm256_and_ps(v0, _mm256_cmp_ps(v0, v0, _CMP_ORD_Q));  /* NaN -> 0 */
    v1 = _mm256_and_ps(v1, _mm256_cmp_ps(v1, v1, _CMP_ORD_Q));
    v0 = _mm256_min_ps(_mm256_max_ps(v0, nbig), big);
    v1 = _mm256_min_ps(_mm256_max_ps(v1, nbig), big);
    a0 = _mm256_add_epi32(_mm256_cvtps_epi32(v0), zy);
    a1 = _mm256_add_epi32(_mm256_cvtps_epi32(v1), zy);
    /* int32 -> int16 -> uint8 with saturation; packs work per 128-bit lane, so reorder */
    __m256i w = _mm256_packs_epi32(a0, a1);                  /* 0-3 8-11 | 4-7 12-15 */
    w = _mm256_permute4x64_epi64(w, 0xD8);                   /* 0-3 4-7 | 8-11 12-15 */
    const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128((__m128i *)dst, b);
}

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_requant16_avx512(const convt_requant *q, int64_t o, const int32_t *CONVT_RESTRICT acc,
                       int32_t add, uint8_t *CONVT_RESTRICT dst)
{
    const __m512 m = _mm512_set1_ps(q->mult[o]);
    __m512i a = _mm512_loadu_si512((const void *)acc);
    __m512 v;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        a = _mm512_add_epi32(a, _mm512_set1_epi32(add));
        v = _mm512_mul_ps(_mm512_fmadd_ps(_mm512_set1_ps(q->bias[o]), _mm512_set1_ps(q->rcp[o]),
                                          _mm512_cvtepi32_ps(a)), m);
    } else {
        a = _mm512_add_epi32(a, _mm512_set1_epi32((int32_t)((uint32_t)q->ibias[o] + (uint32_t)add)));
        v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), m);
    }
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);  /* NaN -> 0 */
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-4194304.0f)), _mm512_set1_ps(4194304.0f));
    a = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(q->zy));
    a = _mm512_max_epi32(a, _mm512_setzero_si512());
    _mm_storeu_si128((__m128i *)dst, _mm512_cvtusepi32_epi8(a));
}
#endif

#endif
