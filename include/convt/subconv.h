/* Transposed convolution as stride-phase sub-convolutions ("subconv"), f32.
 *
 * Every spatial dimension is normalised to 3 (D, H, W; unit dimensions for 1-D and 2-D).
 * Per dimension, the output positions o with o % stride == r form phase r; in phase r,
 *     out[r + s*m] = sum over taps k with (r + p - k*d) % s == 0 of  w[k] * x[m + delta_k],
 *     delta_k = (r + p - k*d) / s,
 * so each phase is a dense correlation with a sub-kernel.  A phase of the 3-D output is a
 * product of per-dimension phases; together the phases partition the output.  Per (group,
 * phase) this is one GEMM:
 *     C[co, col] = sum_{(t, ci)} A[co, (t, ci)] * B[(t, ci), col]
 *     A = packed weights (taps of the phase, t outer, ci inner),
 *     B = input gathered at the tap offsets (zero outside the input),
 *     col = (n, md, mh, mw) over the phase's output grid and the batch.
 * Each output element is written exactly once, after all its taps are summed, with the bias:
 * no scatter-add, no col buffer, and tasks (disjoint output blocks) never race.  Stride 1 is
 * the ordinary convolution (one phase), kernel == stride is one tap per phase (pixel shuffle).
 *
 * A task computes the stride_w phases that share (rd, rh) together, for the same columns
 * (n, md, mh, mw), so the epilogue writes each output row contiguously, interleaving phases,
 * instead of stride_w strided passes over the same cache lines.
 */
#ifndef CONVT_SUBCONV_H
#define CONVT_SUBCONV_H

#include <stdint.h>
#include <string.h>
#include "gemm_f32.h"

typedef struct {
    int64_t batch, cin, cout, groups, cig, cog;
    int64_t in_shape[3], out_shape[3], stride[3];
    int64_t in_size, out_size;      /* products of in_shape / out_shape */
    int64_t kc, mc, nc;             /* K block, channel block (multiple of MR), column block
                                     * (multiple of NR) */
    int64_t kpanel;                 /* largest sum over a task's phases of (taps * cig + 1) */
    int64_t nw;                     /* phases per W group (W residues that taps reach) */
    int64_t a_group_stride;         /* floats of packed A per group */
} convt_geom;

typedef struct {
    int64_t ntaps;
    int64_t residue[3];             /* output positions r + stride*m of this phase */
    int64_t mcount[3];              /* phase grid */
    int64_t a_offset;               /* start of this phase's packed A within a group */
    const int64_t *delta;           /* ntaps x 3 input offsets: i = m + delta */
    const int64_t *kidx;            /* ntaps flattened kernel indices (kd*KH + kh)*KW + kw */
} convt_phase;

/* One task computes out[n, g*cog + co0 .. co1, ...] for the nph consecutive phases p0 ..
 * p0+nph-1 (same rd, rh; either all sw W-phases or a single one) at columns j0 .. j1 of the
 * first phase's grid (n, md, mh, mw), the largest of them. */
enum { CONVT_T_GROUP, CONVT_T_PHASE, CONVT_T_NPH, CONVT_T_CO0, CONVT_T_CO1, CONVT_T_J0,
       CONVT_T_J1, CONVT_T_FIELDS };

/* How a sliver of 16 columns reads the input for one tap. */
enum { CONVT_SL_ZERO = 0, CONVT_SL_FULL = 1, CONVT_SL_SPAN = 2, CONVT_SL_GATHER = 3 };

/* Per-thread scratch, sized by convt_workspace_bytes(). */
typedef struct {
    float *b;        /* packed input panels: nc/NR slivers of (K + 1) x NR per phase */
    float *c;        /* nph x mc x nc accumulators */
    int64_t *coord;  /* nc x 4: n, md, mh, mw of each column */
    int64_t *ooff;   /* nc output offsets of W position sw*mw (without channel and residue) */
    int64_t *src;    /* nc input offsets of the current tap, -1 outside */
    unsigned char *kind;    /* nc / NR: CONVT_SL_* of each sliver for the current tap */
    unsigned char *lo, *hi; /* nc / NR: valid span [lo, hi) of a CONVT_SL_SPAN sliver */
    unsigned char *orun;    /* nc / NR: 1 when a sliver's sw*16 outputs are one full run */
    unsigned char *rowsl;   /* nc / NR: 1 when a sliver's columns are mw0 .. mw0+15 of one row */
    int64_t *base;          /* nc / NR: input offset of column 0 (FULL and SPAN slivers) */
} convt_workspace;

/* Slivers of a packed panel are (K + 1) * NR floats apart: without the extra row, slivers
 * K*64 bytes apart alias to the same L1 sets whenever K is a multiple of 64. */
static int64_t convt_bsliver_stride(int64_t K) { return (K + 1) * CONVT_NR; }

static int64_t convt_workspace_bytes(int64_t kpanel, int64_t nph, int64_t mc, int64_t nc)
{
    return (kpanel * nc + nph * mc * nc) * (int64_t)sizeof(float) +
           7 * nc * (int64_t)sizeof(int64_t) + 5 * (nc / CONVT_NR) + 256;
}

static void convt_workspace_init(convt_workspace *ws, void *mem, int64_t kpanel, int64_t nph,
                                 int64_t mc, int64_t nc)
{
    char *p = (char *)mem;
    const int64_t nsl = nc / CONVT_NR;
    ws->b = (float *)p;       p += kpanel * nc * sizeof(float);
    ws->c = (float *)p;       p += nph * mc * nc * sizeof(float);
    ws->coord = (int64_t *)p; p += 4 * nc * sizeof(int64_t);
    ws->ooff = (int64_t *)p;  p += nc * sizeof(int64_t);
    ws->src = (int64_t *)p;   p += nc * sizeof(int64_t);
    ws->base = (int64_t *)p;  p += nc * sizeof(int64_t);
    ws->kind = (unsigned char *)p; p += nsl;
    ws->lo = (unsigned char *)p;   p += nsl;
    ws->hi = (unsigned char *)p;   p += nsl;
    ws->orun = (unsigned char *)p;  p += nsl;
    ws->rowsl = (unsigned char *)p;
}

/* Classify o[0 .. NR): all invalid, all consecutive, one consecutive valid span, or other. */
static void convt_classify(const int64_t *o, unsigned char *kind, unsigned char *lo,
                           unsigned char *hi)
{
    int first = -1, last = -1, ok = 1;
    for (int j = 0; j < CONVT_NR; ++j) {
        if (o[j] < 0) continue;
        if (first < 0) first = j;
        else if (j != last + 1 || o[j] != o[last] + 1) ok = 0;
        last = j;
    }
    *lo = (unsigned char)(first < 0 ? 0 : first);
    *hi = (unsigned char)(last + 1);
    if (first < 0) *kind = CONVT_SL_ZERO;
    else if (!ok) *kind = CONVT_SL_GATHER;
    else if (first == 0 && last == CONVT_NR - 1) *kind = CONVT_SL_FULL;
    else *kind = CONVT_SL_SPAN;
}

/* Where each sliver reads tap t of phase P (offsets relative to the group's first channel).
 * Columns outside the phase grid (mw >= Mw of this phase) or the input read nothing (zero).
 * Row slivers (16 consecutive mw of one row) are classified in O(1); others per column. */
static void convt_tap_offsets(const convt_geom *G, const convt_phase *P, int64_t t,
                              int64_t ncol, int64_t nsl, convt_workspace *ws)
{
    const int64_t *dl = P->delta + 3 * t;
    const int64_t ID = G->in_shape[0], IH = G->in_shape[1], IW = G->in_shape[2];
    const int64_t nstride = G->cin * G->in_size, Mw = P->mcount[2];
    /* valid mw: mw < Mw and 0 <= mw + dw < IW */
    const int64_t mw_lo = dl[2] < 0 ? -dl[2] : 0;
    const int64_t mw_hi = Mw < IW - dl[2] ? Mw : IW - dl[2];
    for (int64_t s = 0; s < nsl; ++s) {
        const int64_t *cd = ws->coord + 4 * s * CONVT_NR;
        if (ws->rowsl[s]) {
            const int64_t id = cd[1] + dl[0], ih = cd[2] + dl[1], mw0 = cd[3];
            int64_t lo = mw_lo - mw0, hi = mw_hi - mw0;
            lo = lo < 0 ? 0 : lo;
            hi = hi > CONVT_NR ? CONVT_NR : hi;
            if (id < 0 || id >= ID || ih < 0 || ih >= IH || lo >= hi) {
                ws->kind[s] = CONVT_SL_ZERO;
                continue;
            }
            ws->base[s] = cd[0] * nstride + (id * IH + ih) * IW + mw0 + dl[2];
            ws->lo[s] = (unsigned char)lo;
            ws->hi[s] = (unsigned char)hi;
            ws->kind[s] = lo == 0 && hi == CONVT_NR ? CONVT_SL_FULL : CONVT_SL_SPAN;
            continue;
        }
        int64_t *o = ws->src + s * CONVT_NR;
        for (int64_t j = 0; j < CONVT_NR; ++j, cd += 4) {
            int64_t off = -1;
            if (s * CONVT_NR + j < ncol) {
                const int64_t id = cd[1] + dl[0], ih = cd[2] + dl[1], iw = cd[3] + dl[2];
                if (cd[3] < Mw && id >= 0 && id < ID && ih >= 0 && ih < IH && iw >= 0 && iw < IW)
                    off = cd[0] * nstride + (id * IH + ih) * IW + iw;
            }
            o[j] = off;
        }
        convt_classify(o, ws->kind + s, ws->lo + s, ws->hi + s);
        ws->base[s] = o[ws->lo[s]] - ws->lo[s];
    }
}

/* Pack phase P's whole input panel B[(t, ci), column] once: every channel block reuses it. */
static void convt_pack_b(const convt_geom *G, const convt_phase *P, const float *xg,
                         int64_t ncol, int64_t nsl, float *panel, convt_workspace *ws)
{
    const int64_t cig = G->cig, isz = G->in_size;
    const int64_t bstride = convt_bsliver_stride(P->ntaps * cig);
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

/* out[j*sw + rw] = c[rw][j] + b for 16 columns and every phase rw: one contiguous run. */
static void convt_store_run(float *CONVT_RESTRICT dst, const float *CONVT_RESTRICT c, int64_t cstride,
                            int64_t sw, float b)
{
    if (sw == 1) {
        for (int j = 0; j < CONVT_NR; ++j) dst[j] = c[j] + b;
    } else if (sw == 2) {
        const float *CONVT_RESTRICT c1 = c + cstride;
        for (int j = 0; j < CONVT_NR; ++j) {
            dst[2 * j] = c[j] + b;
            dst[2 * j + 1] = c1[j] + b;
        }
    } else {
        for (int j = 0; j < CONVT_NR; ++j)
            for (int64_t rw = 0; rw < sw; ++rw) dst[j * sw + rw] = c[rw * cstride + j] + b;
    }
}

/* Bias and output positions for rows co_first .. +rows of the nph C blocks. */
static void convt_epilogue(const convt_geom *G, const convt_phase *P0, int64_t nph,
                           int64_t co_first, int64_t rows, int64_t ncol, int64_t nsl,
                           const float *bias, float *out, const convt_workspace *ws)
{
    const int64_t sw = G->stride[2], cstride = G->mc * G->nc;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t co = co_first + r;
        const float b = bias ? bias[co] : 0.0f;
        float *o = out + co * G->out_size;
        const float *cr = ws->c + r * G->nc;
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

/* Per-task column setup shared by the float and quantized drivers: coordinates (n, md, mh, mw)
 * of columns j0 .. j1 of P0's grid, their output offsets, which slivers are one input row
 * (rowsl) and which are one contiguous output run over all W phases (orun). */
static void convt_task_columns(const convt_geom *G, const convt_phase *P0, int64_t nph,
                               int64_t j0, int64_t j1, convt_workspace *ws)
{
    const int64_t sw = G->stride[2], ncol = j1 - j0, nsl = (ncol + CONVT_NR - 1) / CONVT_NR;
    const int64_t Md = P0->mcount[0], Mh = P0->mcount[1], Mw = P0->mcount[2];
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];
    for (int64_t jj = 0; jj < ncol; ++jj) {
        int64_t j = j0 + jj;
        const int64_t mw = j % Mw; j /= Mw;
        const int64_t mh = j % Mh; j /= Mh;
        const int64_t md = j % Md; j /= Md;
        int64_t *cd = ws->coord + 4 * jj;
        cd[0] = j; cd[1] = md; cd[2] = mh; cd[3] = mw;
        const int64_t od = P0->residue[0] + G->stride[0] * md;
        const int64_t oh = P0->residue[1] + G->stride[1] * mh;
        ws->ooff[jj] = j * G->cout * G->out_size + (od * OH + oh) * OW + sw * mw;
    }
    for (int64_t s = 0; s < nsl; ++s) {
        const int64_t *cd = ws->coord + 4 * s * CONVT_NR;
        int ok = (s + 1) * CONVT_NR <= ncol && cd[3] + CONVT_NR <= Mw;
        if (ok) {
            const int64_t *ce = cd + 4 * (CONVT_NR - 1);
            ok = ce[0] == cd[0] && ce[1] == cd[1] && ce[2] == cd[2];
        }
        ws->rowsl[s] = (unsigned char)ok;
    }
    /* A sliver is one output run when the task has every W phase, its columns are consecutive
     * along W and every phase's last output is inside the row. */
    for (int64_t s = 0; s < nsl; ++s) {
        const int64_t j = s * CONVT_NR;
        int ok = nph == sw && j + CONVT_NR <= ncol;
        for (int jj = 1; ok && jj < CONVT_NR; ++jj) ok = ws->ooff[j + jj] == ws->ooff[j] + jj * sw;
        ws->orun[s] = (unsigned char)(ok && sw * ws->coord[4 * (j + CONVT_NR - 1) + 3] + sw <= OW);
    }
}

static void convt_subconv_task(const convt_geom *G, const convt_phase *phases,
                               const float *apack, const float *x, const float *bias,
                               float *out, const int64_t *task, convt_workspace *ws,
                               convt_f32_ukr_fn ukr)
{
    const int64_t g = task[CONVT_T_GROUP], co0 = task[CONVT_T_CO0], co1 = task[CONVT_T_CO1];
    const int64_t j0 = task[CONVT_T_J0], j1 = task[CONVT_T_J1], nph = task[CONVT_T_NPH];
    const convt_phase *P0 = phases + task[CONVT_T_PHASE];
    const int64_t ldc = G->nc, cstride = G->mc * G->nc;
    const int64_t ncol = j1 - j0, nsl = (ncol + CONVT_NR - 1) / CONVT_NR;

    convt_task_columns(G, P0, nph, j0, j1, ws);
    const float *xg = x + g * G->cig * G->in_size;
    int64_t off = 0;  /* panels of the sw phases follow each other */
    for (int64_t i = 0; i < nph; ++i) {
        convt_pack_b(G, P0 + i, xg, ncol, nsl, ws->b + off, ws);
        off += nsl * convt_bsliver_stride(P0[i].ntaps * G->cig);
    }

    for (int64_t c0 = co0; c0 < co1; c0 += G->mc) {
        const int64_t rows = co1 - c0 < G->mc ? co1 - c0 : G->mc;
        const int64_t nrs = (rows + CONVT_MR - 1) / CONVT_MR;
        off = 0;
        for (int64_t i = 0; i < nph; ++i) {
            const convt_phase *P = P0 + i;
            const int64_t K = P->ntaps * G->cig, bstride = convt_bsliver_stride(K);
            const float *ac = apack + g * G->a_group_stride + P->a_offset + (c0 / CONVT_MR) * K * CONVT_MR;
            const float *pb = ws->b + off;
            float *cw = ws->c + i * cstride;
            off += nsl * bstride;
            if (K == 0)
                for (int64_t r = 0; r < rows; ++r) memset(cw + r * ldc, 0, ncol * sizeof(float));
            for (int64_t k0 = 0; k0 < K; k0 += G->kc) {
                const int64_t kb = K - k0 < G->kc ? K - k0 : G->kc;
                for (int64_t s = 0; s < nsl; ++s) {
                    const float *bs = pb + s * bstride + k0 * CONVT_NR;
                    for (int64_t q = 0; q < nrs; ++q) {
                        const int64_t left = rows - q * CONVT_MR;
                        ukr(kb, ac + (q * K + k0) * CONVT_MR, bs,
                            cw + q * CONVT_MR * ldc + s * CONVT_NR, ldc, k0 > 0,
                            (int)(left < CONVT_MR ? left : CONVT_MR));
                    }
                }
            }
        }
        convt_epilogue(G, P0, nph, g * G->cog + c0, rows, ncol, nsl, bias, out, ws);
    }
}

/* Pack the weights w (cin, cog, KD, KH, KW) into per-(group, phase) MR-row slivers:
 * apack[g*a_group_stride + phase.a_offset + (q*K + t*cig + ci)*MR + r] = w[g*cig + ci, q*MR + r, tap t]. */
static void convt_pack_a(const float *w, int64_t groups, int64_t cig, int64_t cog,
                         int64_t ksize, const convt_phase *phases, int64_t nphases,
                         int64_t a_group_stride, float *apack)
{
    const int64_t nq = (cog + CONVT_MR - 1) / CONVT_MR;
    for (int64_t g = 0; g < groups; ++g) {
        for (int64_t p = 0; p < nphases; ++p) {
            const convt_phase *P = phases + p;
            const int64_t K = P->ntaps * cig;
            float *dst = apack + g * a_group_stride + P->a_offset;
            for (int64_t q = 0; q < nq; ++q)
                for (int64_t t = 0; t < P->ntaps; ++t)
                    for (int64_t ci = 0; ci < cig; ++ci) {
                        float *d = dst + (q * K + t * cig + ci) * CONVT_MR;
                        for (int64_t r = 0; r < CONVT_MR; ++r) {
                            const int64_t co = q * CONVT_MR + r;
                            d[r] = co < cog ? w[((g * cig + ci) * cog + co) * ksize + P->kidx[t]] : 0.0f;
                        }
                    }
        }
    }
}

#endif
