/* The contract of every GEMM micro-kernel (kernels/*.h):
 *     C[mr x 16] (+)= A[mr x K] * B[K x 16]
 * A: the kernel's MR-row tile of packed weights, contiguous, K in groups of KR
 *    ([k/KR][MR][KR]); rows >= mr are present (zero) and never stored.
 * B: nseg runs of rows ("segments"), in K order: segment s has seg[s].n rows (a multiple of
 *    KR); each group of KR rows is 16 columns x KR values, KR-interleaved per column, and
 *    consecutive groups are seg[s].ld bytes apart (16*KR elements in a packed panel; the
 *    distance between input rows when read in place).
 * C: row-major with ldc elements per row (float or int32); accumulate = 0 overwrites, 1 adds.
 */
#ifndef CONVT_UKR_H
#define CONVT_UKR_H

#include <stdint.h>

typedef struct {
    const void *b;
    int64_t ld;
    int64_t n;
} convt_bseg;

typedef void (*convt_ukr_fn)(int64_t nseg, const convt_bseg *seg, const void *a, void *c,
                             int64_t ldc, int accumulate, int mr);

#endif
