/* Epilogues of the GEMM variants: accumulators to output elements, written once each.
 * Like the packers, written once and instantiated per ISA tier (include/convt/tiers/).
 *   f32: out = c + bias.
 *   q8:  out = requant(c + comp) with comp = -zx * sum(w) for raw-activation panels (0
 *        otherwise): the same exact int32 as the zero-point-free path, then requant.h.
 */
#ifndef CONVT_EPILOGUE_H
#define CONVT_EPILOGUE_H

#include <stdint.h>
#include "gemm.h"

/* out[j*sw + rw] = c[rw][j] + b for 16 columns and every phase rw: one contiguous run. */
static CONVT_ALWAYS_INLINE void convt_store_run(float *CONVT_RESTRICT dst, const float *CONVT_RESTRICT c, int64_t cstride,
                            int64_t sw, float b)
{
    if (sw == 1) {
        for (int j = 0; j < CONVT_NR; ++j) dst[j] = c[j] + b;
    } else if (sw == 2) {
        const float *CONVT_RESTRICT c1 = c + cstride;
#if CONVT_HAVE_X86_KERNELS
        const __m128 bv = _mm_set1_ps(b);
        for (int j = 0; j < CONVT_NR; j += 4) {
            const __m128 v0 = _mm_add_ps(_mm_loadu_ps(c + j), bv);
            const __m128 v1 = _mm_add_ps(_mm_loadu_ps(c1 + j), bv);
            _mm_storeu_ps(dst + 2 * j, _mm_unpacklo_ps(v0, v1));
            _mm_storeu_ps(dst + 2 * j + 4, _mm_unpackhi_ps(v0, v1));
        }
#else
        for (int j = 0; j < CONVT_NR; ++j) {
            dst[2 * j] = c[j] + b;
            dst[2 * j + 1] = c1[j] + b;
        }
#endif
    } else {
        for (int j = 0; j < CONVT_NR; ++j)
            for (int64_t rw = 0; rw < sw; ++rw) dst[j * sw + rw] = c[rw * cstride + j] + b;
    }
}

/* Bias and output positions for rows co_first .. +rows of the nph C blocks. */
static CONVT_ALWAYS_INLINE void
convt_epilogue_f32_impl(const convt_geom *G, const convt_phase *P0, int64_t nph,
                        int64_t co_first, int64_t rows, int64_t ncol, int64_t nsl,
                        const convt_epi *E, void *outv, const convt_workspace *ws)
{
    const int64_t sw = G->stride[2], cstride = G->mc * G->nc;
    const float *bias = E->bias;
    float *out = (float *)outv;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t co = co_first + r;
        const float b = bias ? bias[co] : 0.0f;
        float *o = out + co * G->out_size;
        const float *cr = (const float *)ws->c + r * G->nc;
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t j = s * CONVT_NR;
            if (ws->orun[s]) {
                convt_store_run(o + ws->ooff[j], cr + j, cstride, sw, b);
            } else {
                const int64_t jend = j + CONVT_NR < ncol ? j + CONVT_NR : ncol;
                for (int64_t jj = j; jj < jend; ++jj) {
                    const int64_t mw = ws->coord[4 * jj + 3];
                    for (int64_t i = 0; i < nph; ++i)
                        if (mw < P0[i].mcount[2])
                            o[ws->ooff[jj] + P0[i].residue[2]] = cr[i * cstride + jj] + b;
                }
            }
        }
    }
}

/* dst[2*j + q] = r_q[j]: two rows of 16 bytes interleaved into 32. */
static CONVT_ALWAYS_INLINE void convt_interleave2x16(const uint8_t *r0, const uint8_t *r1,
                                                     uint8_t *dst)
{
#if CONVT_HAVE_X86_KERNELS
    const __m128i a = _mm_loadu_si128((const __m128i *)r0), b = _mm_loadu_si128((const __m128i *)r1);
    _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi8(a, b));
    _mm_storeu_si128((__m128i *)(dst + 16), _mm_unpackhi_epi8(a, b));
#elif CONVT_HAVE_NEON_KERNELS
    uint8x16x2_t v;
    v.val[0] = vld1q_u8(r0);
    v.val[1] = vld1q_u8(r1);
    vst2q_u8(dst, v);
#else
    for (int j = 0; j < CONVT_NR; ++j) { dst[2 * j] = r0[j]; dst[2 * j + 1] = r1[j]; }
#endif
}

/* Requantize rows co_first .. +rows of the nph int32 C blocks into the uint8 output;
 * requant16 is the tier's version of convt_requant16 (a constant: inlined). */
static CONVT_ALWAYS_INLINE void
convt_epilogue_q8_impl(const convt_geom *G, const convt_phase *P0, int64_t nph,
                       int64_t co_first, int64_t rows, int64_t ncol, int64_t nsl,
                       const convt_epi *E, void *outv, const convt_workspace *ws,
                       convt_requant16_fn requant16)
{
    const convt_requant *rq = E->rq;
    uint8_t *out = (uint8_t *)outv;
    const int64_t sw = G->stride[2], cstride = G->mc * G->nc;
    const int32_t *cbuf = (const int32_t *)ws->c;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t co = co_first + r;
        uint8_t *o = out + co * G->out_size;
        const int32_t *cr = cbuf + r * G->nc;
        /* add[i * mc]: zero-point compensation of this row in phase i (none: zeros) */
        static const int32_t none[1] = {0};
        const int32_t *add = E->wsum ? ws->comp + r : none;
        const int64_t as = E->wsum ? G->mc : 0;
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t j = s * CONVT_NR;
            if (ws->orun[s]) {
                uint8_t *dst = o + ws->ooff[j];
                if (sw == 1) {
                    requant16(rq, co, cr + j, add[0], dst);
                } else if (sw == 2) {
                    uint8_t t0[CONVT_NR], t1[CONVT_NR];
                    requant16(rq, co, cr + j, add[0], t0);
                    requant16(rq, co, cr + cstride + j, add[as], t1);
                    convt_interleave2x16(t0, t1, dst);
                } else {
                    uint8_t tmp[CONVT_NR];
                    for (int64_t rw = 0; rw < sw; ++rw) {
                        requant16(rq, co, cr + rw * cstride + j, add[rw * as], tmp);
                        for (int jj = 0; jj < CONVT_NR; ++jj) dst[jj * sw + rw] = tmp[jj];
                    }
                }
            } else {  /* requantize all 16 (vectors), store the columns that are outputs */
                const int64_t jend = j + CONVT_NR < ncol ? j + CONVT_NR : ncol;
                uint8_t tmp[CONVT_NR];
                for (int64_t i = 0; i < nph; ++i) {
                    requant16(rq, co, cr + i * cstride + j, add[i * as], tmp);
                    for (int64_t jj = j; jj < jend; ++jj)
                        if (ws->coord[4 * jj + 3] < P0[i].mcount[2])
                            o[ws->ooff[jj] + P0[i].residue[2]] = tmp[jj - j];
                }
            }
        }
    }
}

#endif
