/* Runtime CPU feature detection: which kernel variants this CPU (and OS) can run. */
#ifndef CONVT_CPU_H
#define CONVT_CPU_H

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#include <immintrin.h>
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#define CONVT_X86 1
#else
#define CONVT_X86 0
#endif

/* C99 restrict; MSVC's C compiler spells it __restrict unless built with /std:c11. */
#if defined(_MSC_VER)
#define CONVT_RESTRICT __restrict
#else
#define CONVT_RESTRICT restrict
#endif

/* Per-function target attribute for AVX2+FMA code; MSVC accepts the intrinsics without /arch. */
#if CONVT_X86 && (defined(__GNUC__) || defined(__clang__))
#define CONVT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define CONVT_HAVE_AVX2_KERNELS 1
#elif CONVT_X86 && defined(_MSC_VER)
#define CONVT_TARGET_AVX2
#define CONVT_HAVE_AVX2_KERNELS 1
#else
#define CONVT_HAVE_AVX2_KERNELS 0
#endif

/* NEON (Advanced SIMD) is part of the AArch64 baseline: those kernels need no runtime check. */
#if defined(__aarch64__) || defined(_M_ARM64)
#define CONVT_HAVE_NEON_KERNELS 1
#else
#define CONVT_HAVE_NEON_KERNELS 0
#endif

/* 1 when the CPU has AVX2 and FMA and the OS saves YMM state. */
static int convt_cpu_has_avx2_fma(void)
{
#if CONVT_X86 && (defined(__GNUC__) || defined(__clang__))
    /* libgcc / compiler-rt check OSXSAVE and XCR0 before reporting AVX features. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif CONVT_X86 && defined(_MSC_VER)
    int r[4];
    __cpuid(r, 0);
    if (r[0] < 7) return 0;
    __cpuid(r, 1);
    int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    if ((_xgetbv(0) & 6) != 6) return 0;
    __cpuidex(r, 7, 0);
    return (r[1] >> 5) & 1;
#else
    return 0;
#endif
}

#endif
