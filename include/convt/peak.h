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
#endif

#endif
