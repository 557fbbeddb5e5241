/* The W split of a forward convolution's input (_plan.py make_forward_phases, geom.h).
 *
 * A forward convolution strided along W reads input w = m*sw + delta.  The engine reads W with
 * unit step (whole 16-column slivers), so the input is first copied with each row split into
 * its W residues: row r of x (iw elements) becomes ncomp components of wq = ceil(iw/sw)
 * elements, component c holding x[r, res[c] + q*sw].  A component shorter than wq ends in
 * zeros, which no tap reads as data (each tap stops at its component's length, P->wlim); they
 * only keep 16-wide vector loads over initialised memory.  One pass over the input, bounded by
 * its size.
 */
#ifndef CONVT_SPLIT_H
#define CONVT_SPLIT_H

#include <stdint.h>
#include <string.h>
#include "cpu.h"

/* Rows r0 .. r1 of x (esize-byte elements: 4 float32, 1 uint8) into xs. */
static void convt_split_w_rows(const void *x, void *xs, int64_t r0, int64_t r1, int64_t iw,
                               int64_t sw, const int64_t *res, int64_t ncomp, int64_t wq,
                               int esize)
{
    const int64_t pitch = ncomp * wq;
    for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = 0; c < ncomp; ++c) {
            const int64_t n = (iw - res[c] + sw - 1) / sw;  /* this component's length */
            /* vector steps read src[0 .. 2*(q+V)) of this row: while that stays in the row */
            const int64_t in_row = iw - res[c];
            int64_t q = 0;
            if (esize == 4) {
                const float *src = (const float *)x + r * iw + res[c];
                float *dst = (float *)xs + r * pitch + c * wq;
#if CONVT_HAVE_X86_KERNELS
                if (sw == 2)  /* the common stride: even lanes of two vectors (SSE2) */
                    for (; 2 * (q + 4) <= in_row; q += 4)
                        _mm_storeu_ps(dst + q, _mm_shuffle_ps(_mm_loadu_ps(src + 2 * q),
                                                              _mm_loadu_ps(src + 2 * q + 4),
                                                              _MM_SHUFFLE(2, 0, 2, 0)));
#endif
                for (; q < n; ++q) dst[q] = src[q * sw];
                memset(dst + n, 0, (size_t)(wq - n) * 4);
            } else {
                const uint8_t *src = (const uint8_t *)x + r * iw + res[c];
                uint8_t *dst = (uint8_t *)xs + r * pitch + c * wq;
#if CONVT_HAVE_X86_KERNELS
                if (sw == 2) {  /* even bytes of two vectors: mask, pack (SSE2) */
                    const __m128i lo = _mm_set1_epi16(0xff);
                    for (; 2 * (q + 16) <= in_row; q += 16) {
                        const __m128i a = _mm_loadu_si128((const __m128i *)(src + 2 * q));
                        const __m128i b = _mm_loadu_si128((const __m128i *)(src + 2 * q + 16));
                        _mm_storeu_si128((__m128i *)(dst + q),
                                         _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo)));
                    }
                }
#endif
                for (; q < n; ++q) dst[q] = src[q * sw];
                memset(dst + n, 0, (size_t)(wq - n));
            }
        }
    }
}

#endif
