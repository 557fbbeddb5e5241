/* Quantized (uint8 activations x int8 weights -> int32 -> uint8) stride-phase sub-convolution.
 *
 * Same phases, tasks and column handling as subconv.h.  Panels hold zero-point-free int16
 * values: B = x - zx (0 where a tap falls outside the input, so border taps add exactly
 * nothing), A = w - zw; the micro-kernel sums exact int16 products into int32 (gemm_s16.h).
 * After all taps of an output are summed, it is requantized once (requant.h).
 */
#ifndef CONVT_SUBCONV_Q_H
#define CONVT_SUBCONV_Q_H

#include <stdint.h>
#include <string.h>
#include "subconv.h"
#include "gemm_s16.h"
#include "requant.h"

/* int16 elements between the slivers of a panel with K rows: K rounded up to pairs, plus one
 * pair-row against L1 set aliasing. */
static int64_t convt_s16_sliver_stride(int64_t K) { return ((K + 1) / 2 + 1) * 2 * CONVT_NR; }

/* Pack phase P's input panel: element (k, j) of sliver s at
 * panel[s*stride + (k/2)*2*NR + 2*j + (k&1)] = x - zx (0 outside the input). */
static void convt_pack_b_s16(const convt_geom *G, const convt_phase *P, const uint8_t *xg,
                             int32_t zx, int64_t ncol, int64_t nsl, int16_t *panel,
                             convt_workspace *ws)
{
    const int64_t cig = G->cig, isz = G->in_size, K = P->ntaps * cig;
    const int64_t bstride = convt_s16_sliver_stride(K);
    const int16_t z = (int16_t)zx;
    if (K & 1)  /* the pad row of the last pair */
        for (int64_t s = 0; s < nsl; ++s)
            for (int j = 0; j < CONVT_NR; ++j) panel[s * bstride + (K / 2) * 2 * CONVT_NR + 2 * j + 1] = 0;
    for (int64_t t = 0; t < P->ntaps; ++t) {
        convt_tap_offsets(G, P, t, ncol, nsl, ws);
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t *o = ws->src + s * CONVT_NR;
            const int kind = ws->kind[s], lo = ws->lo[s], hi = ws->hi[s];
            for (int64_t ci = 0; ci < cig; ++ci) {
                const int64_t k = t * cig + ci;
                int16_t *d = panel + s * bstride + (k >> 1) * 2 * CONVT_NR + (k & 1);
                if (kind == CONVT_SL_FULL) {
                    const uint8_t *src = xg + ws->base[s] + ci * isz;
                    if (!(k & 1) && ci + 1 < cig) {
                        /* rows k and k+1 together: one contiguous run of 16 pairs */
                        const uint8_t *src1 = src + isz;
                        for (int j = 0; j < CONVT_NR; ++j) {
                            d[2 * j] = (int16_t)(src[j] - z);
                            d[2 * j + 1] = (int16_t)(src1[j] - z);
                        }
                        ++ci;
                    } else {
                        for (int j = 0; j < CONVT_NR; ++j) d[2 * j] = (int16_t)(src[j] - z);
                    }
                } else if (kind == CONVT_SL_ZERO) {
                    for (int j = 0; j < CONVT_NR; ++j) d[2 * j] = 0;
                } else if (kind == CONVT_SL_SPAN) {
                    const uint8_t *src = xg + ws->base[s] + ci * isz;
                    for (int j = 0; j < CONVT_NR; ++j)
                        d[2 * j] = (int16_t)(j >= lo && j < hi ? src[j] - z : 0);
                } else {
                    const uint8_t *xc = xg + ci * isz;
                    for (int j = 0; j < CONVT_NR; ++j)
                        d[2 * j] = (int16_t)(o[j] >= 0 ? xc[o[j]] - z : 0);
                }
            }
        }
    }
}

/* Requantize rows co_first .. +rows of the nph int32 C blocks into the uint8 output. */
static void convt_epilogue_q8(const convt_geom *G, const convt_phase *P0, int64_t nph,
                              int64_t co_first, int64_t rows, int64_t ncol, int64_t nsl,
                              const convt_requant *rq, uint8_t *out, const convt_workspace *ws)
{
    const int64_t sw = G->stride[2], cstride = G->mc * G->nc;
    const int32_t *cbuf = (const int32_t *)ws->c;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t co = co_first + r;
        uint8_t *o = out + co * G->out_size;
        const int32_t *cr = cbuf + r * G->nc;
        for (int64_t s = 0; s < nsl; ++s) {
            const int64_t j = s * CONVT_NR;
            if (ws->orun[s]) {
                uint8_t *dst = o + ws->ooff[j];
                uint8_t tmp[CONVT_NR];
                for (int64_t rw = 0; rw < sw; ++rw) {
                    if (sw == 1) {
                        convt_requant16(rq, co, cr + j, dst);
                        break;
                    }
                    convt_requant16(rq, co, cr + rw * cstride + j, tmp);
                    for (int jj = 0; jj < CONVT_NR; ++jj) dst[jj * sw + rw] = tmp[jj];
                }
            } else {
                const int64_t jend = j + CONVT_NR < ncol ? j + CONVT_NR : ncol;
                for (int64_t jj = j; jj < jend; ++jj) {
                    const int64_t mw = ws->coord[4 * jj + 3];
                    for (int64_t i = 0; i < nph; ++i)
                        if (mw < P0[i].mcount[2])
                            o[ws->ooff[jj] + P0[i].residue[2]] =
                                convt_requant_one(rq, co, cr[i * cstride + jj]);
                }
            }
        }
    }
}

static void convt_subconv_task_q8(const convt_geom *G, const convt_phase *phases,
                                  const int16_t *apack, const uint8_t *x, int32_t zx,
                                  const convt_requant *rq, uint8_t *out, const int64_t *task,
                                  convt_workspace *ws, convt_s16_ukr_fn ukr)
{
    const int64_t g = task[CONVT_T_GROUP], co0 = task[CONVT_T_CO0], co1 = task[CONVT_T_CO1];
    const int64_t j0 = task[CONVT_T_J0], j1 = task[CONVT_T_J1], nph = task[CONVT_T_NPH];
    const convt_phase *P0 = phases + task[CONVT_T_PHASE];
    const int64_t ldc = G->nc, cstride = G->mc * G->nc;
    const int64_t ncol = j1 - j0, nsl = (ncol + CONVT_NR - 1) / CONVT_NR;
    int16_t *bpanel = (int16_t *)ws->b;
    int32_t *cbuf = (int32_t *)ws->c;

    convt_task_columns(G, P0, nph, j0, j1, ws);
    const uint8_t *xg = x + g * G->cig * G->in_size;
    int64_t off = 0;  /* panels of the task's phases follow each other */
    for (int64_t i = 0; i < nph; ++i) {
        convt_pack_b_s16(G, P0 + i, xg, zx, ncol, nsl, bpanel + off, ws);
        off += nsl * convt_s16_sliver_stride(P0[i].ntaps * G->cig);
    }

    for (int64_t c0 = co0; c0 < co1; c0 += G->mc) {
        const int64_t rows = co1 - c0 < G->mc ? co1 - c0 : G->mc;
        const int64_t nrs = (rows + CONVT_MR - 1) / CONVT_MR;
        off = 0;
        for (int64_t i = 0; i < nph; ++i) {
            const convt_phase *P = P0 + i;
            const int64_t K = P->ntaps * G->cig, Ka = (K + 1) / 2 * 2;
            const int64_t bstride = convt_s16_sliver_stride(K);
            const int16_t *ac = apack + g * G->a_group_stride + P->a_offset + (c0 / CONVT_MR) * Ka * CONVT_MR;
            const int16_t *pb = bpanel + off;
            int32_t *cw = cbuf + i * cstride;
            off += nsl * bstride;
            if (K == 0)
                for (int64_t r = 0; r < rows; ++r) memset(cw + r * ldc, 0, ncol * sizeof(int32_t));
            for (int64_t k0 = 0; k0 < Ka; k0 += G->kc) {
                const int64_t kb = Ka - k0 < G->kc ? Ka - k0 : G->kc;
                for (int64_t s = 0; s < nsl; ++s) {
                    const int16_t *bs = pb + s * bstride + k0 * CONVT_NR;
                    for (int64_t q = 0; q < nrs; ++q) {
                        const int64_t left = rows - q * CONVT_MR;
                        ukr(kb, ac + (q * Ka + k0) * CONVT_MR, bs,
                            cw + q * CONVT_MR * ldc + s * CONVT_NR, ldc, k0 > 0,
                            (int)(left < CONVT_MR ? left : CONVT_MR));
                    }
                }
            }
        }
        convt_epilogue_q8(G, P0, nph, g * G->cog + c0, rows, ncol, nsl, rq, out, ws);
    }
}

/* Peak probe on the kernel itself: `iters` calls of the micro-kernel on L1-resident 6x256 and
 * 256x16 panels (6*16*256 multiply-adds each); returns a value depending on the results. */
static float convt_peak_s16_ukr(int64_t iters, convt_s16_ukr_fn ukr)
{
    enum { KC = 256 };
    static const int16_t zero_pad[1] = {0};
    int16_t a[CONVT_MR * KC], b[CONVT_NR * KC];
    int32_t c[CONVT_MR * CONVT_NR];
    for (int i = 0; i < CONVT_MR * KC; ++i) a[i] = (int16_t)(i % 7 - 3 + zero_pad[0]);
    for (int i = 0; i < CONVT_NR * KC; ++i) b[i] = (int16_t)(i % 5 - 2);
    for (int64_t i = 0; i < iters; ++i) ukr(KC, a, b, c, CONVT_NR, (int)(i & 1), CONVT_MR);
    return (float)c[0];
}

/* Pack int8 weights w (cin, cog, KD, KH, KW) minus their zero points zw[co] (co < cog) into
 * per-(group, phase) MR-row slivers of k pairs (K padded to even with zeros):
 * apack[g*a_group_stride + a_offset + ((q*Ka/2 + k/2)*MR + r)*2 + (k&1)]. */
static void convt_pack_a_s16(const int8_t *w, const int32_t *zw, int64_t groups, int64_t cig,
                             int64_t cog, int64_t ksize, const convt_phase *phases,
                             int64_t nphases, int64_t a_group_stride, int16_t *apack)
{
    const int64_t nq = (cog + CONVT_MR - 1) / CONVT_MR;
    for (int64_t g = 0; g < groups; ++g) {
        for (int64_t p = 0; p < nphases; ++p) {
            const convt_phase *P = phases + p;
            const int64_t K = P->ntaps * cig, Kp = (K + 1) / 2;
            int16_t *dst = apack + g * a_group_stride + P->a_offset;
            for (int64_t q = 0; q < nq; ++q)
                for (int64_t k = 0; k < 2 * Kp; ++k) {
                    const int64_t t = k / cig, ci = k - t * cig;
                    for (int64_t r = 0; r < CONVT_MR; ++r) {
                        const int64_t co = q * CONVT_MR + r;
                        int16_t v = 0;
                        if (k < K && co < cog)
                            v = (int16_t)(w[((g * cig + ci) * cog + co) * ksize + P->kidx[t]] - zw[co]);
                        dst[((q * Kp + k / 2) * CONVT_MR + r) * 2 + (k & 1)] = v;
                    }
                }
        }
    }
}

#endif
