/* Machine peak probes: independent chains of one instruction, enough of them to cover its
 * latency x throughput, so the loop runs at the core's issue rate.  The benchmark expresses
 * every figure as a fraction of the probe of the tier in use.  Each returns a value depending
 * on every chain, so nothing is optimised away; ops per iteration are given in a comment
 * (2 per multiply-add). */
#ifndef CONVT_PEAK_H
#define CONVT_PEAK_H

#include <stdint.h>
#include "cpu.h"
#include "tiers.h"

#if defined(__GNUC__) || defined(__clang__)
/* An empty asm "modifies" v, so equal products are neither merged nor hoisted. */
#define CONVT_FRESH(v) __asm__ volatile("" : "+v"(v))
#else
#define CONVT_FRESH(v) (void)0
#endif

#define CONVT_12_CHAINS(STEP) \
    STEP(c0) STEP(c1) STEP(c2) STEP(c3) STEP(c4) STEP(c5) \
    STEP(c6) STEP(c7) STEP(c8) STEP(c9) STEP(c10) STEP(c11)
/* c0 = OP over all 12 chains (so every chain is used) */
#define CONVT_FOLD_12(OP) \
    c0 = OP(OP(OP(c0, c1), OP(c2, c3)), OP(OP(c4, c5), OP(c6, c7))); \
    c0 = OP(c0, OP(OP(c8, c9), OP(c10, c11)));

/* fp32: 12 chains x 8 lanes x 2 = 192 ops per iteration. */
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

/* int16 pairs: 12 chains x 16 products x 2 = 384 ops per iteration (plain C). */
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

#if CONVT_HAVE_X86_KERNELS
/* fp32 FMA, ymm: 12 x 8 x 2 = 192 ops per iteration. */
static CONVT_TARGET_AVX2 float convt_peak_fma_avx2(int64_t iters)
{
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
#define CONVT_STEP(C) C = _mm256_fmadd_ps(C, m, a); CONVT_FRESH(C);
    for (int64_t i = 0; i < iters; ++i) { CONVT_12_CHAINS(CONVT_STEP) }
#undef CONVT_STEP
    CONVT_FOLD_12(_mm256_add_ps)
    float out[8];
    _mm256_storeu_ps(out, c0);
    return out[0] + out[7];
}

/* fp32 FMA, zmm: 12 x 16 x 2 = 384 ops per iteration. */
static CONVT_TARGET_AVX512 float convt_peak_fma_avx512(int64_t iters)
{
    const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    __m512 c0 = _mm512_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
#define CONVT_STEP(C) C = _mm512_fmadd_ps(C, m, a); CONVT_FRESH(C);
    for (int64_t i = 0; i < iters; ++i) { CONVT_12_CHAINS(CONVT_STEP) }
#undef CONVT_STEP
    CONVT_FOLD_12(_mm512_add_ps)
    return _mm512_reduce_add_ps(c0);
}

/* vpmaddwd + vpaddd, ymm (the int16 kernels' mix): 12 x 16 x 2 = 384 ops per iteration. */
static CONVT_TARGET_AVX2 float convt_peak_s16_avx2(int64_t iters)
{
    __m256i a = _mm256_set1_epi16(3), b = _mm256_set1_epi16(5);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256i c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
#define CONVT_STEP(C) C = _mm256_add_epi32(C, _mm256_madd_epi16(a, b)); CONVT_FRESH(a);
    for (int64_t i = 0; i < iters; ++i) { CONVT_12_CHAINS(CONVT_STEP) }
#undef CONVT_STEP
    CONVT_FOLD_12(_mm256_xor_si256)
    return (float)_mm256_extract_epi32(c0, 0);
}

/* vpdpbusd zmm (u8 x s8, exact): 12 x 64 x 2 = 1536 ops per iteration. */
static CONVT_TARGET_AVX512VNNI float convt_peak_dpbusd_avx512vnni(int64_t iters)
{
    __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512i c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
#define CONVT_STEP(C) C = _mm512_dpbusd_epi32(C, a, b); CONVT_FRESH(C);
    for (int64_t i = 0; i < iters; ++i) { CONVT_12_CHAINS(CONVT_STEP) }
#undef CONVT_STEP
    CONVT_FOLD_12(_mm512_xor_si512)
    return (float)_mm512_reduce_add_epi32(c0);
}

/* vpdpbusd ymm, VEX (AVX-VNNI): 12 x 32 x 2 = 768 ops per iteration. */
static CONVT_TARGET_AVXVNNI float convt_peak_dpbusd_avxvnni(int64_t iters)
{
    __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5);
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m256i c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
#define CONVT_STEP(C) C = convt_mm256_dpbusd_vex(C, a, b); CONVT_FRESH(C);
    for (int64_t i = 0; i < iters; ++i) { CONVT_12_CHAINS(CONVT_STEP) }
#undef CONVT_STEP
    CONVT_FOLD_12(_mm256_xor_si256)
    return (float)_mm256_extract_epi32(c0, 0);
}
#endif

/* A GEMM micro-kernel itself on L1-resident panels: `iters` calls with K = 256 (the tile's
 * mr x 16 x 256 multiply-adds each), so the probe reflects the kernel's own instruction mix. */
static float convt_peak_ukr(int64_t iters, const convt_gemm_kernel *V)
{
    enum { KC = 256 };
    /* per call (every probe thread runs this at once): 32 KiB on the stack */
    unsigned char a[16 * KC * 4], b[16 * KC * 4];
    int32_t c[16 * 16];
    for (int i = 0; i < (int)sizeof a; ++i) a[i] = V->dtype == CONVT_DT_F32 ? 0 : (unsigned char)(i % 7);
    for (int i = 0; i < (int)sizeof b; ++i) b[i] = V->dtype == CONVT_DT_F32 ? 0 : (unsigned char)(i % 5);
    const convt_bseg seg = {b, 16 * V->kr * V->b_size, KC};
    for (int64_t i = 0; i < iters; ++i) V->ukr(1, &seg, a, c, 16, (int)(i & 1), V->mr);
    return (float)c[0];
}

#endif
