/* Machine peak probe: independent FMA chains, enough to cover FMA latency x throughput, so
 * the loop runs at the core's FMA issue rate.  Used by the benchmark to express every figure
 * as a fraction of what this machine can do. */
#ifndef CONVT_PEAK_H
#define CONVT_PEAK_H

#include <stdint.h>
#include "cpu.h"

/* Returns a value depending on every chain, so nothing is optimised away.
 * Floating-point operations performed: iters * 12 chains * 8 lanes * 2. */
#if CONVT_HAVE_AVX2_KERNELS
#include <immintrin.h>
static CONVT_TARGET_AVX2 float convt_peak_fma_avx2(int64_t iters)
{
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(1.0f), c1 = _mm256_set1_ps(1.1f), c2 = _mm256_set1_ps(1.2f);
    __m256 c3 = _mm256_set1_ps(1.3f), c4 = _mm256_set1_ps(1.4f), c5 = _mm256_set1_ps(1.5f);
    __m256 c6 = _mm256_set1_ps(1.6f), c7 = _mm256_set1_ps(1.7f), c8 = _mm256_set1_ps(1.8f);
    __m256 c9 = _mm256_set1_ps(1.9f), c10 = _mm256_set1_ps(2.0f), c11 = _mm256_set1_ps(2.1f);
    for (int64_t i = 0; i < iters; ++i) {
        c0 = _mm256_fmadd_ps(c0, m, a);   c1 = _mm256_fmadd_ps(c1, m, a);
        c2 = _mm256_fmadd_ps(c2, m, a);   c3 = _mm256_fmadd_ps(c3, m, a);
        c4 = _mm256_fmadd_ps(c4, m, a);   c5 = _mm256_fmadd_ps(c5, m, a);
        c6 = _mm256_fmadd_ps(c6, m, a);   c7 = _mm256_fmadd_ps(c7, m, a);
        c8 = _mm256_fmadd_ps(c8, m, a);   c9 = _mm256_fmadd_ps(c9, m, a);
        c10 = _mm256_fmadd_ps(c10, m, a); c11 = _mm256_fmadd_ps(c11, m, a);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}
#endif


/* Exact int8 probe: the quantized micro-kernel's instruction mix, acc += vpmaddwd(a, b) (16
 * int16 products summed in pairs) + vpaddd, in 12 independent accumulators.  Operations counted per iteration:
 * 12 chains * 16 multiply-adds * 2. */
#if CONVT_HAVE_AVX2_KERNELS
static CONVT_TARGET_AVX2 float convt_peak_s16_avx2(int64_t iters)
{
    __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(5);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256i c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
#if defined(__GNUC__) || defined(__clang__)
    /* An empty asm "modifies" a between products, so none is merged or hoisted: every step
     * issues 12 vpmaddwd, as the kernel does with fresh operands. */
#define CONVT_FRESH(v) __asm__ volatile("" : "+x"(v))
#else
#define CONVT_FRESH(v) (void)0
#endif
#define CONVT_STEP(C) C = _mm256_add_epi32(C, _mm256_madd_epi16(a, b)); CONVT_FRESH(a);
    for (int64_t i = 0; i < iters; ++i) {
        CONVT_STEP(c0) CONVT_STEP(c1) CONVT_STEP(c2) CONVT_STEP(c3)
        CONVT_STEP(c4) CONVT_STEP(c5) CONVT_STEP(c6) CONVT_STEP(c7)
        CONVT_STEP(c8) CONVT_STEP(c9) CONVT_STEP(c10) CONVT_STEP(c11)
    }
#undef CONVT_STEP
#undef CONVT_FRESH
    __m256i s = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(c0, c1), _mm256_xor_si256(c2, c3)),
                                 _mm256_xor_si256(_mm256_xor_si256(c4, c5), _mm256_xor_si256(c6, c7)));
    s = _mm256_xor_si256(s, _mm256_xor_si256(_mm256_xor_si256(c8, c9), _mm256_xor_si256(c10, c11)));
    return (float)_mm256_extract_epi32(s, 0);
}
#endif

static float convt_peak_s16_portable(int64_t iters)
{
    int32_t c[12][8];
    for (int r = 0; r < 12; ++r)
        for (int j = 0; j < 8; ++j) c[r][j] = r + j;
    for (int64_t i = 0; i < iters; ++i)
        for (int r = 0; r < 12; ++r)
            for (int j = 0; j < 8; ++j)
                c[r][j] = (int32_t)((uint32_t)c[r][j] + (uint32_t)((int16_t)c[r][j] * 3 * 2));
    int32_t s = 0;
    for (int r = 0; r < 12; ++r) s ^= c[r][0] ^ c[r][7];
    return (float)s;
}

/* Portable probe: same operation count per iteration; the compiler's baseline vectors. */
static float convt_peak_fma_portable(int64_t iters)
{
    float c[12][8];
    for (int r = 0; r < 12; ++r)
        for (int j = 0; j < 8; ++j) c[r][j] = 1.0f + 0.1f * r;
    for (int64_t i = 0; i < iters; ++i)
        for (int r = 0; r < 12; ++r)
            for (int j = 0; j < 8; ++j) c[r][j] = c[r][j] * 0.999999f + 1e-7f;
    float s = 0.0f;
    for (int r = 0; r < 12; ++r) s += c[r][0] + c[r][7];
    return s;
}

#if !CONVT_HAVE_AVX2_KERNELS
#define convt_peak_fma_avx2 convt_peak_fma_portable
#define convt_peak_s16_avx2 convt_peak_s16_portable
#endif

#endif
