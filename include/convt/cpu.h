/* CPU features, per-tier target attributes and the intrinsics header.
 *
 * Each ISA tier's functions carry a target attribute (GCC/clang) so one translation unit,
 * built for the platform's baseline, holds every tier; MSVC compiles the intrinsics without
 * one.  Built with -DCONVT_USE_SIMDE, the x86 intrinsics come from SIMDe's portable
 * implementations instead, every tier is compiled for the baseline and reported as present:
 * that build checks the AVX-512/VNNI kernels' logic on a machine without the instructions
 * (tools/check_x86_tiers.sh).
 */
#ifndef CONVT_CPU_H
#define CONVT_CPU_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#define CONVT_X86 1
#else
#define CONVT_X86 0
#endif

/* C99 restrict; MSVC's C compiler spells it __restrict unless built with /std:c11. */
#if defined(_MSC_VER)
#define CONVT_RESTRICT __restrict
#define CONVT_ALWAYS_INLINE __forceinline
#define CONVT_NOINLINE __declspec(noinline)
#else
#define CONVT_RESTRICT restrict
#define CONVT_ALWAYS_INLINE inline __attribute__((always_inline))
#define CONVT_NOINLINE __attribute__((noinline))
#endif

/* Feature bits of the tiers (a tier needs all of its bits). */
enum {
    CONVT_F_AVX2 = 1 << 0,        /* AVX2 + FMA, OS saves YMM */
    CONVT_F_AVX512 = 1 << 1,      /* AVX-512 F, BW, VL, DQ, OS saves ZMM and opmasks */
    CONVT_F_AVX512VNNI = 1 << 2,  /* AVX512_VNNI */
    CONVT_F_AVXVNNI = 1 << 3,     /* AVX-VNNI (VEX-encoded vpdpbusd) */
    CONVT_F_NEON = 1 << 4         /* AArch64 Advanced SIMD (baseline there) */
};

#if defined(CONVT_USE_SIMDE)
/* Portable intrinsics: every x86 tier compiles for any CPU. */
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <math.h>
#include <simde/x86/avx512.h>
#define CONVT_HAVE_X86_KERNELS 1
/* Intrinsics older SIMDe releases (Debian 12's 0.7.4) lack, element by element. */
#ifndef _mm512_cvtepi32_ps
static inline __m512 convt_simde_cvtepi32_ps(__m512i a)
{
    int32_t t[16]; float f[16];
    _mm512_storeu_si512(t, a);
    for (int i = 0; i < 16; ++i) f[i] = (float)t[i];
    return _mm512_loadu_ps(f);
}
#define _mm512_cvtepi32_ps convt_simde_cvtepi32_ps
#endif
#ifndef _mm512_cvtps_epi32
static inline __m512i convt_simde_cvtps_epi32(__m512 v)  /* current rounding mode */
{
    float f[16]; int32_t t[16];
    _mm512_storeu_ps(f, v);
    for (int i = 0; i < 16; ++i) t[i] = (int32_t)nearbyintf(f[i]);
    return _mm512_loadu_si512(t);
}
#define _mm512_cvtps_epi32 convt_simde_cvtps_epi32
#endif
/* SIMDe's fallback FMAs round twice (a multiply, then an add); the instructions round once,
 * and the requantization's bias step must (it matches FBGEMM's fused multiply-add). */
static inline __m128 convt_simde_fmadd_ss(__m128 a, __m128 b, __m128 c)
{
    float x[4], y[4], z[4];
    _mm_storeu_ps(x, a); _mm_storeu_ps(y, b); _mm_storeu_ps(z, c);
    z[0] = fmaf(x[0], y[0], z[0]);
    return _mm_loadu_ps(z);
}
static inline __m256 convt_simde_fmadd_ps256(__m256 a, __m256 b, __m256 c)
{
    float x[8], y[8], z[8];
    _mm256_storeu_ps(x, a); _mm256_storeu_ps(y, b); _mm256_storeu_ps(z, c);
    for (int i = 0; i < 8; ++i) z[i] = fmaf(x[i], y[i], z[i]);
    return _mm256_loadu_ps(z);
}
static inline __m512 convt_simde_fmadd_ps512(__m512 a, __m512 b, __m512 c)
{
    float x[16], y[16], z[16];
    _mm512_storeu_ps(x, a); _mm512_storeu_ps(y, b); _mm512_storeu_ps(z, c);
    for (int i = 0; i < 16; ++i) z[i] = fmaf(x[i], y[i], z[i]);
    return _mm512_loadu_ps(z);
}
#undef _mm_fmadd_ss
#undef _mm256_fmadd_ps
#undef _mm512_fmadd_ps
#define _mm_fmadd_ss convt_simde_fmadd_ss
#define _mm256_fmadd_ps convt_simde_fmadd_ps256
#define _mm512_fmadd_ps convt_simde_fmadd_ps512
/* Masked loads and stores element by element: SIMDe's vmaskmovps reads every lane and 0.7.4
 * lacks the AVX-512 ones, but the kernels rely on masked-off lanes not being read (a run's
 * window may start before the input buffer); the masked FMA rounds once, as the instruction. */
#ifndef __mmask16
#define __mmask16 simde__mmask16
#endif
static inline __m512 convt_simde_mask_loadu_ps(__m512 src, __mmask16 k, const void *p)
{
    float f[16];
    const float *s = (const float *)p;
    _mm512_storeu_ps(f, src);
    for (int i = 0; i < 16; ++i)
        if ((k >> i) & 1) f[i] = s[i];
    return _mm512_loadu_ps(f);
}
static inline __m512 convt_simde_maskz_loadu_ps(__mmask16 k, const void *p)
{
    return convt_simde_mask_loadu_ps(_mm512_setzero_ps(), k, p);
}
static inline void convt_simde_mask_storeu_ps(void *p, __mmask16 k, __m512 a)
{
    float f[16], *d = (float *)p;
    _mm512_storeu_ps(f, a);
    for (int i = 0; i < 16; ++i)
        if ((k >> i) & 1) d[i] = f[i];
}
static inline __m512 convt_simde_mask3_fmadd_ps(__m512 a, __m512 b, __m512 c, __mmask16 k)
{
    float x[16], y[16], z[16];
    _mm512_storeu_ps(x, a); _mm512_storeu_ps(y, b); _mm512_storeu_ps(z, c);
    for (int i = 0; i < 16; ++i)
        if ((k >> i) & 1) z[i] = fmaf(x[i], y[i], z[i]);
    return _mm512_loadu_ps(z);
}
static inline __m256 convt_simde_maskload_ps(const float *p, __m256i m)
{
    int32_t b[8];
    float f[8];
    _mm256_storeu_si256((__m256i *)b, m);
    for (int i = 0; i < 8; ++i) f[i] = b[i] < 0 ? p[i] : 0.0f;
    return _mm256_loadu_ps(f);
}
#undef _mm512_mask_loadu_ps
#undef _mm512_maskz_loadu_ps
#undef _mm512_mask_storeu_ps
#undef _mm512_mask3_fmadd_ps
#undef _mm256_maskload_ps
#define _mm512_mask_loadu_ps convt_simde_mask_loadu_ps
#define _mm512_maskz_loadu_ps convt_simde_maskz_loadu_ps
#define _mm512_mask_storeu_ps convt_simde_mask_storeu_ps
#define _mm512_mask3_fmadd_ps convt_simde_mask3_fmadd_ps
#define _mm256_maskload_ps convt_simde_maskload_ps
#ifndef _mm512_cvtusepi32_epi8
static inline __m128i convt_simde_cvtusepi32_epi8(__m512i a)
{
    uint32_t t[16]; uint8_t b[16];
    _mm512_storeu_si512(t, a);
    for (int i = 0; i < 16; ++i) b[i] = (uint8_t)(t[i] > 255u ? 255u : t[i]);
    return _mm_loadu_si128((const __m128i *)b);
}
#define _mm512_cvtusepi32_epi8 convt_simde_cvtusepi32_epi8
#endif
#define CONVT_TARGET_AVX2
#define CONVT_TARGET_AVX512
#define CONVT_TARGET_AVX512VNNI
#define CONVT_TARGET_AVXVNNI
#elif CONVT_X86 && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CONVT_HAVE_X86_KERNELS 1
#define CONVT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define CONVT_TARGET_AVX512 \
    __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#define CONVT_TARGET_AVX512VNNI \
    __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,prefer-vector-width=512")))
#define CONVT_TARGET_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#elif CONVT_X86 && defined(_MSC_VER)
#include <intrin.h>
#include <immintrin.h>
#define CONVT_HAVE_X86_KERNELS 1
#define CONVT_TARGET_AVX2
#define CONVT_TARGET_AVX512
#define CONVT_TARGET_AVX512VNNI
#define CONVT_TARGET_AVXVNNI
#else
#define CONVT_HAVE_X86_KERNELS 0
#endif

/* NEON (Advanced SIMD) is part of the AArch64 baseline: those kernels need no runtime check. */
#if defined(__aarch64__) || defined(_M_ARM64)
#define CONVT_HAVE_NEON_KERNELS 1
#include <arm_neon.h>
#else
#define CONVT_HAVE_NEON_KERNELS 0
#endif

#if CONVT_X86 && !defined(CONVT_USE_SIMDE)
static void convt_cpuid(int leaf, int sub, uint32_t r[4])
{
#if defined(_MSC_VER)
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; ++i) r[i] = (uint32_t)v[i];
#else
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
    r[0] = a; r[1] = b; r[2] = c; r[3] = d;
#endif
}

static uint64_t convt_xgetbv0(void)
{
#if defined(_MSC_VER)
    return _xgetbv(0);
#else
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}
#endif

/* The CONVT_F_* bits this CPU and OS support (only for kernels this build contains). */
static unsigned convt_cpu_features(void)
{
#if defined(CONVT_USE_SIMDE)
    return CONVT_F_AVX2 | CONVT_F_AVX512 | CONVT_F_AVX512VNNI | CONVT_F_AVXVNNI;
#elif CONVT_X86
    uint32_t r[4];
    unsigned f = 0;
    convt_cpuid(0, 0, r);
    const uint32_t maxleaf = r[0];
    if (maxleaf < 7) return 0;
    convt_cpuid(1, 0, r);
    const int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    const uint64_t xcr0 = convt_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;           /* XMM and YMM state */
    convt_cpuid(7, 0, r);
    const uint32_t maxsub7 = r[0], ebx7 = r[1], ecx7 = r[2];
    if ((ebx7 >> 5) & 1) f |= CONVT_F_AVX2;
    /* F (16), DQ (17), BW (30), VL (31); opmask, ZMM_Hi256 and Hi16_ZMM state (XCR0 bits 5-7) */
    const uint32_t avx512_bits = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    if ((f & CONVT_F_AVX2) && (ebx7 & avx512_bits) == avx512_bits && (xcr0 & 0xE0) == 0xE0) {
        f |= CONVT_F_AVX512;
        if ((ecx7 >> 11) & 1) f |= CONVT_F_AVX512VNNI;
    }
    if (maxsub7 >= 1) {
        convt_cpuid(7, 1, r);
        if ((f & CONVT_F_AVX2) && ((r[0] >> 4) & 1)) f |= CONVT_F_AVXVNNI;
    }
    return f;
#elif CONVT_HAVE_NEON_KERNELS
    return CONVT_F_NEON;
#else
    return 0;
#endif
}

#endif
