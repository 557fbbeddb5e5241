/* Kernel-level test for the AArch64 NEON micro-kernels against the portable ones (built by
 * tools/check_neon.sh with a cross compiler and run under qemu-user): int8 results must be
 * identical, float results equal to rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "convt/tiers.h"  /* every header compiles for AArch64 too */

enum { MR = 6, NR = 16 };

static unsigned rng_state = 12345u;
static int rnd(int lo, int hi) { rng_state = rng_state * 1103515245u + 12345u; return lo + (int)((rng_state >> 8) % (unsigned)(hi - lo + 1)); }

int main(void)
{
#if !CONVT_HAVE_NEON_KERNELS
    printf("not an AArch64 build\n");
    return 1;
#else
    int failures = 0;
    enum { KMAX = 300 };
    static float af[MR * KMAX], bf[NR * KMAX], c1[MR * 20], c2[MR * 20];
    static int16_t as[MR * KMAX], bs[NR * KMAX];
    static int32_t d1[MR * 20], d2[MR * 20];
    for (int trial = 0; trial < 200; ++trial) {
        const int kc = 2 * rnd(1, KMAX / 2), mr = rnd(1, MR), acc = rnd(0, 1), ldc = 20;
        for (int i = 0; i < MR * kc; ++i) { af[i] = rnd(-1000, 1000) / 997.0f; as[i] = (int16_t)rnd(-255, 255); }
        for (int i = 0; i < NR * kc; ++i) { bf[i] = rnd(-1000, 1000) / 991.0f; bs[i] = (int16_t)rnd(-255, 255); }
        for (int i = 0; i < MR * ldc; ++i) { c1[i] = c2[i] = rnd(-9, 9); d1[i] = d2[i] = rnd(-99999, 99999); }
        /* B in two segments, the second one strided, as the driver may pass it */
        const int k1 = 2 * rnd(0, kc / 2);
        const convt_bseg sf[2] = {{bf, NR * 4, k1}, {bf + NR * k1, NR * 4, kc - k1}};
        const convt_bseg ss[2] = {{bs, 2 * NR * 2, k1}, {bs + NR * k1, 2 * NR * 2, kc - k1}};
        convt_f32_gemm_6x16_portable(2, sf, af, c1, ldc, acc, mr);
        convt_f32_gemm_6x16_neon(2, sf, af, c2, ldc, acc, mr);
        convt_s16_gemm_6x16_portable(2, ss, as, d1, ldc, acc, mr);
        convt_s16_gemm_6x16_neon(2, ss, as, d2, ldc, acc, mr);
        for (int i = 0; i < MR * ldc; ++i) {
            if (fabsf(c1[i] - c2[i]) > 1e-4f * (1.0f + fabsf(c1[i]))) { ++failures; printf("f32 mismatch trial %d i %d: %g %g\n", trial, i, c1[i], c2[i]); break; }
            if (d1[i] != d2[i]) { ++failures; printf("s16 mismatch trial %d i %d: %d %d\n", trial, i, d1[i], d2[i]); break; }
        }
    }
    if (convt_tiers[0] != &convt_tier_neon) { ++failures; printf("the neon tier is not first\n"); }
    printf("neon kernels: %s (%d failures in 200 trials)\n", failures ? "FAIL" : "ok", failures);
    return failures != 0;
#endif
}
