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
 * Each packer also says where the rows of every (sliver, tap) are: ws->seg_out[s*ntaps + t].
 */
#ifndef CONVT_PACK_H
#define CONVT_PACK_H

#include <stdint.h>
#include <string.h>
#include "gemm.h"

/* Tap t of every sliver is in the panel (sliver s at byte s*sliver_bytes, the tap at
 * t*tap_bytes within it, steps of 16 x KR values `ld` bytes apart): say so in ws->seg_out. */
static CONVT_ALWAYS_INLINE void convt_panel_segments(convt_workspace *ws, const convt_phase *P,
                                                     int64_t t, int64_t nsl, const void *panel,
                                                     int64_t sliver_bytes, int64_t tap_bytes,
                                                     int64_t ld, int64_t rows)
{
    for (int64_t s = 0; s < nsl; ++s) {
        convt_bseg *sg = ws->seg_out + s * P->ntaps + t;
        sg->b = (const char *)panel + s * sliver_bytes + t * tap_bytes;
        sg->ld = ld;
        sg->n = rows;
    }
}

/* A float sliver of runs: dst[rj[r] + i] = xc[rs[r] + i] for i < rn[r], zeros between. */
typedef void (*convt_f32_runs_fn)(float *dst, const float *xc, const unsigned char *rj,
                                  const unsigned char *rn, const int64_t *rs, int nrun);

static CONVT_ALWAYS_INLINE void convt_f32_runs_impl(float *dst, const float *xc,
                                                    const unsigned char *rj,
                                                    const unsigned char *rn, const int64_t *rs,
                                                    int nrun)
{
    memset(dst, 0, CONVT_NR * sizeof(float));
    for (int r = 0; r < nrun; ++r) memcpy(dst + rj[r], xc + rs[r], rn[r] * sizeof(float));
}

#if CONVT_HAVE_X86_KERNELS
/* Each run two masked loads (vmaskmovps: masked-off lanes read nothing and give +0.0, so the
 * runs, which never overlap, combine by OR). */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_runs_avx2_impl(float *dst, const float *xc, const unsigned char *rj,
                         const unsigned char *rn, const int64_t *rs, int nrun)
{
    const __m256i i0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i i1 = _mm256_add_epi32(i0, _mm256_set1_epi32(8));
    __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
    for (int r = 0; r < nrun; ++r) {
        const __m256i lo = _mm256_set1_epi32(rj[r]), hi = _mm256_set1_epi32(rj[r] + rn[r]);
        const __m256i m0 = _mm256_andnot_si256(_mm256_cmpgt_epi32(lo, i0), _mm256_cmpgt_epi32(hi, i0));
        const __m256i m1 = _mm256_andnot_si256(_mm256_cmpgt_epi32(lo, i1), _mm256_cmpgt_epi32(hi, i1));
        const float *win = xc + (rs[r] - rj[r]);
        v0 = _mm256_or_ps(v0, _mm256_maskload_ps(win, m0));
        v1 = _mm256_or_ps(v1, _mm256_maskload_ps(win + 8, m1));
    }
    _mm256_storeu_ps(dst, v0);
    _mm256_storeu_ps(dst + 8, v1);
}

/* Each run one masked load into the sliver's register (masked-off lanes read nothing, so a
 * run's window may reach past the buffer). */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX512 void
convt_f32_runs_avx512_impl(float *dst, const float *xc, const unsigned char *rj,
                           const unsigned char *rn, const int64_t *rs, int nrun)
{
    __m512 v = _mm512_setzero_ps();
    for (int r = 0; r < nrun; ++r)
        v = _mm512_mask_loadu_ps(v, (__mmask16)(((1u << rn[r]) - 1) << rj[r]),
                                 xc + (rs[r] - rj[r]));
    _mm512_storeu_ps(dst, v);
}
#endif

/* How many channels ahead the float packer prefetches. */
#define CONVT_PACK_PF 4

/* Pack phase P's whole input panel B[(t, ci), column] once: every channel block reuses it. */
static CONVT_ALWAYS_INLINE void
convt_pack_b_f32_impl(const convt_geom *G, const convt_phase *P, const void *xv, int64_t ncol,
                      int64_t nsl, void *pv, convt_workspace *ws, const convt_epi *E,
                      convt_f32_runs_fn f32_runs)
{
    const float *xg = (const float *)xv;
    float *panel = (float *)pv;
    const int64_t cig = G->cig, isz = G->in_size;
    const int64_t bstride = convt_bsliver_stride(P->ntaps * cig, 1);
    const int in_place = (isz * 4) % 1024 != 0;
    (void)E;
    /* Channels outer, slivers inner: a channel row is read front to back (prefetcher-friendly;
     * rows of different channels are often a multiple of 4 KiB apart). */
    for (int64_t t = 0; t < P->ntaps; ++t) {
        convt_tap_offsets(G, P, t, ncol, nsl, ws);
        convt_panel_segments(ws, P, t, nsl, panel, bstride * 4, cig * CONVT_NR * 4, CONVT_NR * 4,
                             cig);
        /* A sliver whose 16 inputs are consecutive in every channel is read in place: its
         * rows are the input rows themselves, a channel plane apart (nothing to copy) --
         * unless planes a multiple of 1 KiB apart would crowd its rows into few cache sets. */
        for (int64_t s = 0; in_place && s < nsl; ++s)
            if (ws->kind[s] == CONVT_SL_FULL) {
                convt_bseg *sg = ws->seg_out + s * P->ntaps + t;
                sg->b = xg + ws->base[s];
                sg->ld = isz * 4;
            }
        for (int64_t ci = 0; ci < cig; ++ci) {
            for (int64_t s = 0; s < nsl; ++s) {
                float *dst = panel + s * bstride + (t * cig + ci) * CONVT_NR;
                const float *src = xg + ws->base[s] + ci * isz;
                const int lo = ws->lo[s], hi = ws->hi[s];
                switch (ws->kind[s]) {
                case CONVT_SL_FULL:
                    if (in_place) break;
                    memcpy(dst, src, CONVT_NR * sizeof(float));
#if defined(__GNUC__)
                    /* the same columns PF channels on: channels are far apart (a plane each),
                     * too far for the hardware prefetcher, and the loads are latency-bound */
                    if (ci + CONVT_PACK_PF < cig) {
                        __builtin_prefetch(src + CONVT_PACK_PF * isz);
                        __builtin_prefetch(src + CONVT_PACK_PF * isz + CONVT_NR - 1);
                    }
#endif
                    break;
                case CONVT_SL_ZERO:
                    memset(dst, 0, CONVT_NR * sizeof(float));
                    break;
                case CONVT_SL_SPAN: {  /* one run: inputs lo .. hi-1 of the window */
                    const unsigned char rj = (unsigned char)lo, rn = (unsigned char)(hi - lo);
                    const int64_t rs = lo;
                    f32_runs(dst, src, &rj, &rn, &rs, 1);
                    break;
                }
                default:  /* runs of consecutive inputs (short rows), zeros between */
                    f32_runs(dst, xg + ci * isz, ws->run_j + s * CONVT_NR,
                             ws->run_n + s * CONVT_NR, ws->run_src + s * CONVT_NR, ws->nrun[s]);
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
        convt_panel_segments(ws, P, t, nsl, panel, bstride * 2, ckr * CONVT_NR * 2,
                             CONVT_NR * 2 * 2, ckr);
        for (int64_t s = 0; s < nsl; ++s) {
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
                } else {  /* runs of consecutive inputs, zeros between */
                    const uint8_t *x0 = xg + ci * isz, *x1 = x0 + isz;
                    const unsigned char *rj = ws->run_j + s * CONVT_NR, *rn = ws->run_n + s * CONVT_NR;
                    const int64_t *rs = ws->run_src + s * CONVT_NR;
                    memset(d, 0, 2 * CONVT_NR * sizeof(int16_t));
                    for (int r = 0; r < ws->nrun[s]; ++r)
                        for (int j = 0; j < rn[r]; ++j) {
                            d[2 * (rj[r] + j)] = (int16_t)(x0[rs[r] + j] - z);
                            d[2 * (rj[r] + j) + 1] = two ? (int16_t)(x1[rs[r] + j] - z) : 0;
                        }
                }
            }
        }
    }
}

/* u8x4 panels.  A sliver's 4 rows (channels ci .. ci+3 of one tap) become 64 bytes:
 * dst[4*j + q] = row_q[j].  Rows are built in vector registers where the platform has them
 * (SSE2 is x86-64's baseline, NEON AArch64's), from a full 16-byte load (FULL slivers), a
 * load blended with zx outside [lo, hi) (SPAN slivers whose 16-byte window lies inside the
 * input buffer), or element by element (the rest). */
#if CONVT_HAVE_X86_KERNELS
typedef __m128i convt_row16;
static CONVT_ALWAYS_INLINE convt_row16 convt_row16_load(const uint8_t *p)
{ return _mm_loadu_si128((const __m128i *)p); }
static CONVT_ALWAYS_INLINE convt_row16 convt_row16_splat(uint8_t z) { return _mm_set1_epi8((char)z); }
/* bytes j in [lo, hi) from p, z elsewhere; p[0 .. 16) must be readable */
static CONVT_ALWAYS_INLINE convt_row16 convt_row16_span(const uint8_t *p, int lo, int hi,
                                                       convt_row16 zv)
{
    const __m128i idx = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m128i in = _mm_andnot_si128(_mm_cmplt_epi8(idx, _mm_set1_epi8((char)lo)),
                                        _mm_cmplt_epi8(idx, _mm_set1_epi8((char)hi)));
    return _mm_or_si128(_mm_and_si128(in, convt_row16_load(p)), _mm_andnot_si128(in, zv));
}
static CONVT_ALWAYS_INLINE void convt_row16_interleave4(convt_row16 a, convt_row16 b,
                                                        convt_row16 c, convt_row16 d,
                                                        uint8_t *dst)
{
    const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    const __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi16(ab0, cd0));
    _mm_storeu_si128((__m128i *)(dst + 16), _mm_unpackhi_epi16(ab0, cd0));
    _mm_storeu_si128((__m128i *)(dst + 32), _mm_unpacklo_epi16(ab1, cd1));
    _mm_storeu_si128((__m128i *)(dst + 48), _mm_unpackhi_epi16(ab1, cd1));
}
#define CONVT_ROW16_VECTOR 1
#elif CONVT_HAVE_NEON_KERNELS
typedef uint8x16_t convt_row16;
static CONVT_ALWAYS_INLINE convt_row16 convt_row16_load(const uint8_t *p) { return vld1q_u8(p); }
static CONVT_ALWAYS_INLINE convt_row16 convt_row16_splat(uint8_t z) { return vdupq_n_u8(z); }
static CONVT_ALWAYS_INLINE convt_row16 convt_row16_span(const uint8_t *p, int lo, int hi,
                                                       convt_row16 zv)
{
    static const uint8_t idx_[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const uint8x16_t idx = vld1q_u8(idx_);
    const uint8x16_t in = vandq_u8(vcgeq_u8(idx, vdupq_n_u8((uint8_t)lo)),
                                   vcltq_u8(idx, vdupq_n_u8((uint8_t)hi)));
    return vbslq_u8(in, vld1q_u8(p), zv);
}
static CONVT_ALWAYS_INLINE void convt_row16_interleave4(convt_row16 a, convt_row16 b,
                                                        convt_row16 c, convt_row16 d,
                                                        uint8_t *dst)
{
    uint8x16x4_t v;
    v.val[0] = a; v.val[1] = b; v.val[2] = c; v.val[3] = d;
    vst4q_u8(dst, v);
}
#define CONVT_ROW16_VECTOR 1
#else
#define CONVT_ROW16_VECTOR 0
#endif

/* 4 rows given by pointers (16 readable bytes each), interleaved. */
static CONVT_ALWAYS_INLINE void convt_interleave4x16(const uint8_t *r0, const uint8_t *r1,
                                                     const uint8_t *r2, const uint8_t *r3,
                                                     uint8_t *dst)
{
#if CONVT_ROW16_VECTOR
    convt_row16_interleave4(convt_row16_load(r0), convt_row16_load(r1), convt_row16_load(r2),
                            convt_row16_load(r3), dst);
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
    const uint8_t *xlo = (const uint8_t *)ws->x_lo, *xhi = (const uint8_t *)ws->x_hi;
    uint8_t zrow[CONVT_NR], tmp[4][CONVT_NR];
    memset(zrow, z, sizeof zrow);
#if CONVT_ROW16_VECTOR
    const convt_row16 zv = convt_row16_splat(z);
#endif
    /* Channel quads outer, slivers inner: the 4 input rows of a quad are read 16 bytes after
     * 16 bytes while they are in L1 (rows of different channels are often a multiple of 4 KiB
     * apart and would evict each other). */
    for (int64_t t = 0; t < P->ntaps; ++t) {
        convt_tap_offsets(G, P, t, ncol, nsl, ws);
        convt_panel_segments(ws, P, t, nsl, panel, bstride * 1, ckr * CONVT_NR * 1,
                             CONVT_NR * 4 * 1, ckr);
        for (int64_t ci = 0; ci < ckr; ci += 4) {
            const int whole = ci + 4 <= cig;  /* four real channels */
            for (int64_t s = 0; s < nsl; ++s) {
                const int kind = ws->kind[s], lo = ws->lo[s], hi = ws->hi[s];
                uint8_t *d = panel + s * bstride + (t * ckr + ci) * CONVT_NR;
                const uint8_t *src = xg + ws->base[s] + ci * isz;
                if (kind == CONVT_SL_ZERO) {
                    memset(d, z, 4 * CONVT_NR);
                    continue;
                }
                if (whole && kind == CONVT_SL_FULL) {
                    convt_interleave4x16(src, src + isz, src + 2 * isz, src + 3 * isz, d);
                    continue;
                }
#if CONVT_ROW16_VECTOR
                if (whole && kind == CONVT_SL_SPAN && src >= xlo && src + 3 * isz + 16 <= xhi) {
                    convt_row16_interleave4(convt_row16_span(src, lo, hi, zv),
                                            convt_row16_span(src + isz, lo, hi, zv),
                                            convt_row16_span(src + 2 * isz, lo, hi, zv),
                                            convt_row16_span(src + 3 * isz, lo, hi, zv), d);
                    continue;
                }
#endif
#if CONVT_ROW16_VECTOR
                if (whole && kind == CONVT_SL_GATHER) {
                    /* runs (short rows): each run blended into the rows from one 16-byte
                     * load per channel, when every load stays inside the input buffer */
                    const unsigned char *rj = ws->run_j + s * CONVT_NR;
                    const unsigned char *rn = ws->run_n + s * CONVT_NR;
                    const int64_t *rs = ws->run_src + s * CONVT_NR;
                    const uint8_t *xq = xg + ci * isz;
                    int inside = 1;
                    for (int r = 0; r < ws->nrun[s]; ++r) {
                        const uint8_t *p = xq + rs[r] - rj[r];
                        inside &= p >= xlo && p + 3 * isz + 16 <= xhi;
                    }
                    if (inside) {
                        convt_row16 r0 = zv, r1 = zv, r2 = zv, r3 = zv;
                        for (int r = 0; r < ws->nrun[s]; ++r) {
                            const uint8_t *p = xq + rs[r] - rj[r];
                            const int lo_r = rj[r], hi_r = rj[r] + rn[r];
                            r0 = convt_row16_span(p, lo_r, hi_r, r0);
                            r1 = convt_row16_span(p + isz, lo_r, hi_r, r1);
                            r2 = convt_row16_span(p + 2 * isz, lo_r, hi_r, r2);
                            r3 = convt_row16_span(p + 3 * isz, lo_r, hi_r, r3);
                        }
                        convt_row16_interleave4(r0, r1, r2, r3, d);
                        continue;
                    }
                }
#endif
                /* the rest: a last partial quad, spans near the buffer's ends, runs */
                const unsigned char *rj = ws->run_j + s * CONVT_NR, *rn = ws->run_n + s * CONVT_NR;
                const int64_t *rs = ws->run_src + s * CONVT_NR;
                for (int q = 0; q < 4; ++q) {
                    const int64_t c = ci + q;
                    if (c >= cig) {
                        memcpy(tmp[q], zrow, CONVT_NR);
                    } else if (kind == CONVT_SL_FULL) {
                        memcpy(tmp[q], src + q * isz, CONVT_NR);
                    } else if (kind == CONVT_SL_SPAN) {
                        memcpy(tmp[q], zrow, CONVT_NR);
                        for (int j = lo; j < hi; ++j) tmp[q][j] = src[q * isz + j];
                    } else {
                        const uint8_t *xc = xg + c * isz;
                        memcpy(tmp[q], zrow, CONVT_NR);
                        for (int r = 0; r < ws->nrun[s]; ++r)
                            memcpy(tmp[q] + rj[r], xc + rs[r], rn[r]);
                    }
                }
                convt_interleave4x16(tmp[0], tmp[1], tmp[2], tmp[3], d);
            }
        }
    }
}

#endif
