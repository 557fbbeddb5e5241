/* Input-panel packing for the GEMM variants: one implementation per panel layout, written
 * once and instantiated by each ISA tier (include/convt/tiers/), whose target attribute lets
 * the compiler vectorise it for that tier.
 *
 * Panel of phase P: nsl slivers of 16 columns, convt_bsliver_stride(K, KR) elements apart;
 * row k = t*ckr + ci holds input channel ci at tap t (rows ci >= cig are padding: their
 * weights are 0).  Element (k, j) of a sliver sits at (k/KR)*KR*16 + KR*j + k%KR.
 *   f32   (KR 1): x, 0 where the tap falls outside the input.
 *   s16   (KR 2): x - zx as int16, 0 outside (zero-point-free, so border taps add nothing).
 *   u8x4  (KR 4): x itself, zx outside (so every column sees every tap and the zero-point
 *                 compensation zx*sum(w) is the same for all columns of a phase).
 */
#ifndef CONVT_PACK_H
#define CONVT_PACK_H

#include <stdint.h>
#include <string.h>
#include "gemm.h"

/* Pack phase P's whole input panel B[(t, ci), column] once: every channel block reuses it. */
static CONVT_ALWAYS_INLINE void
convt_pack_b_f32_impl(const convt_geom *G, const convt_phase *P, const void *xv, int64_t ncol,
                      int64_t nsl, void *pv, convt_workspace *ws, const convt_epi *E)
{
    const float *xg = (const float *)xv;
    float *panel = (float *)pv;
    const int64_t cig = G->cig, isz = G->in_size;
    const int64_t bstride = convt_bsliver_stride(P->ntaps * cig, 1);
    (void)E;
    for (int64_t t = 0; t < P->ntaps; ++t) {
        convt_tap_offsets(G, P, t, ncol, nsl, ws);
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t *o = ws->src + s * CONVT_NR;
            float *dst = panel + s * bstride + t * cig * CONVT_NR;
            const int lo = ws->lo[s], hi = ws->hi[s];
            switch (ws->kind[s]) {
            case CONVT_SL_FULL: {
                const float *src = xg + ws->base[s];
                for (int64_t ci = 0; ci < cig; ++ci, src += isz, dst += CONVT_NR)
                    memcpy(dst, src, CONVT_NR * sizeof(float));
                break;
            }
            case CONVT_SL_ZERO:
                memset(dst, 0, cig * CONVT_NR * sizeof(float));
                break;
            case CONVT_SL_SPAN: {
                const float *src = xg + ws->base[s];
                for (int64_t ci = 0; ci < cig; ++ci, src += isz, dst += CONVT_NR) {
                    for (int j = 0; j < lo; ++j) dst[j] = 0.0f;
                    for (int j = lo; j < hi; ++j) dst[j] = src[j];
                    for (int j = hi; j < CONVT_NR; ++j) dst[j] = 0.0f;
                }
                break;
            }
            default: {
                const float *xc = xg;
                for (int64_t ci = 0; ci < cig; ++ci, xc += isz, dst += CONVT_NR)
                    for (int j = 0; j < CONVT_NR; ++j) dst[j] = o[j] >= 0 ? xc[o[j]] : 0.0f;
            }
            }
        }
    }
}

static CONVT_ALWAYS_INLINE void
convt_pack_b_s16_impl(const convt_geom *G, const convt_phase *P, const void *xv, int64_t ncol,
                      int64_t nsl, void *pv, convt_workspace *ws, const convt_epi *E)
{
    const uint8_t *xg = (const uint8_t *)xv;
    int16_t *panel = (int16_t *)pv;
    const int64_t cig = G->cig, ckr = G->ckr, isz = G->in_size;
    const int64_t bstride = convt_bsliver_stride(P->ntaps * ckr, 2);
    const int16_t z = (int16_t)E->zx;
    for (int64_t t = 0; t < P->ntaps; ++t) {
        convt_tap_offsets(G, P, t, ncol, nsl, ws);
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t *o = ws->src + s * CONVT_NR;
            const int kind = ws->kind[s], lo = ws->lo[s], hi = ws->hi[s];
            int16_t *d = panel + s * bstride + t * ckr * CONVT_NR;
            for (int64_t ci = 0; ci < ckr; ci += 2, d += 2 * CONVT_NR) {
                const int two = ci + 1 < cig;  /* row ci + 1 is a channel, not padding */
                if (kind == CONVT_SL_FULL) {
                    const uint8_t *s0 = xg + ws->base[s] + ci * isz, *s1 = s0 + isz;
                    for (int j = 0; j < CONVT_NR; ++j) {
                        d[2 * j] = (int16_t)(s0[j] - z);
                        d[2 * j + 1] = two ? (int16_t)(s1[j] - z) : 0;
                    }
                } else if (kind == CONVT_SL_ZERO) {
                    memset(d, 0, 2 * CONVT_NR * sizeof(int16_t));
                } else if (kind == CONVT_SL_SPAN) {
                    const uint8_t *s0 = xg + ws->base[s] + ci * isz, *s1 = s0 + isz;
                    for (int j = 0; j < CONVT_NR; ++j) {
                        const int in = j >= lo && j < hi;
                        d[2 * j] = (int16_t)(in ? s0[j] - z : 0);
                        d[2 * j + 1] = (int16_t)(in && two ? s1[j] - z : 0);
                    }
                } else {
                    const uint8_t *x0 = xg + ci * isz, *x1 = x0 + isz;
                    for (int j = 0; j < CONVT_NR; ++j) {
                        d[2 * j] = (int16_t)(o[j] >= 0 ? x0[o[j]] - z : 0);
                        d[2 * j + 1] = (int16_t)(o[j] >= 0 && two ? x1[o[j]] - z : 0);
                    }
                }
            }
        }
    }
}

/* dst[4*j + q] = r_q[j] for 16 columns j: four rows of bytes interleaved into 64. */
static CONVT_ALWAYS_INLINE void convt_interleave4x16(const uint8_t *r0, const uint8_t *r1,
                                                     const uint8_t *r2, const uint8_t *r3,
                                                     uint8_t *dst)
{
#if CONVT_HAVE_X86_KERNELS
    const __m128i a = _mm_loadu_si128((const __m128i *)r0), b = _mm_loadu_si128((const __m128i *)r1);
    const __m128i c = _mm_loadu_si128((const __m128i *)r2), d = _mm_loadu_si128((const __m128i *)r3);
    const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    const __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi16(ab0, cd0));
    _mm_storeu_si128((__m128i *)(dst + 16), _mm_unpackhi_epi16(ab0, cd0));
    _mm_storeu_si128((__m128i *)(dst + 32), _mm_unpacklo_epi16(ab1, cd1));
    _mm_storeu_si128((__m128i *)(dst + 48), _mm_unpackhi_epi16(ab1, cd1));
#elif CONVT_HAVE_NEON_KERNELS
    uint8x16x4_t v;
    v.val[0] = vld1q_u8(r0); v.val[1] = vld1q_u8(r1);
    v.val[2] = vld1q_u8(r2); v.val[3] = vld1q_u8(r3);
    vst4q_u8(dst, v);
#else
    for (int j = 0; j < CONVT_NR; ++j) {
        dst[4 * j] = r0[j]; dst[4 * j + 1] = r1[j];
        dst[4 * j + 2] = r2[j]; dst[4 * j + 3] = r3[j];
    }
#endif
}

static CONVT_ALWAYS_INLINE void
convt_pack_b_u8x4_impl(const convt_geom *G, const convt_phase *P, const void *xv, int64_t ncol,
                       int64_t nsl, void *pv, convt_workspace *ws, const convt_epi *E)
{
    const uint8_t *xg = (const uint8_t *)xv;
    uint8_t *panel = (uint8_t *)pv;
    const int64_t cig = G->cig, ckr = G->ckr, isz = G->in_size;
    const int64_t bstride = convt_bsliver_stride(P->ntaps * ckr, 4);
    const uint8_t z = (uint8_t)E->zx;
    uint8_t zrow[CONVT_NR], tmp[4][CONVT_NR];
    memset(zrow, z, sizeof zrow);
    for (int64_t t = 0; t < P->ntaps; ++t) {
        convt_tap_offsets(G, P, t, ncol, nsl, ws);
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t *o = ws->src + s * CONVT_NR;
            const int kind = ws->kind[s], lo = ws->lo[s], hi = ws->hi[s];
            uint8_t *d = panel + s * bstride + t * ckr * CONVT_NR;
            if (kind == CONVT_SL_ZERO) {
                memset(d, z, ckr * CONVT_NR);
                continue;
            }
            for (int64_t ci = 0; ci < ckr; ci += 4, d += 4 * CONVT_NR) {
                const uint8_t *r[4];
                for (int q = 0; q < 4; ++q) {
                    if (ci + q >= cig) {
                        r[q] = zrow;
                    } else if (kind == CONVT_SL_FULL) {
                        r[q] = xg + ws->base[s] + (ci + q) * isz;
                    } else if (kind == CONVT_SL_SPAN) {
                        const uint8_t *src = xg + ws->base[s] + (ci + q) * isz;
                        memset(tmp[q], z, CONVT_NR);
                        for (int j = lo; j < hi; ++j) tmp[q][j] = src[j];
                        r[q] = tmp[q];
                    } else {
                        const uint8_t *xc = xg + (ci + q) * isz;
                        for (int j = 0; j < CONVT_NR; ++j) tmp[q][j] = o[j] >= 0 ? xc[o[j]] : z;
                        r[q] = tmp[q];
                    }
                }
                convt_interleave4x16(r[0], r[1], r[2], r[3], d);
            }
        }
    }
}

#endif
