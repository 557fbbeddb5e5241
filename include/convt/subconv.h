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
    int64_t kc, nc;                 /* K block and column block (nc multiple of CONVT_NR) */
    int64_t a_group_stride;         /* floats of packed A per group */
} convt_geom;

typedef struct {
    int64_t ntaps;
    int64_t residue[3];             /* output positions r + stride*m of this phase */
    int64_t mcount[3];              /* phase grid */
    int64_t ncols;                  /* batch * prod(mcount) */
    int64_t a_offset;               /* start of this phase's packed A within a group */
    const int64_t *delta;           /* ntaps x 3 input offsets: i = m + delta */
    const int64_t *kidx;            /* ntaps flattened kernel indices (kd*KH + kh)*KW + kw */
} convt_phase;

/* One task computes out[n, g*cog + co0 .. co1, phase positions of columns j0 .. j1). */
enum { CONVT_T_GROUP, CONVT_T_PHASE, CONVT_T_CO0, CONVT_T_CO1, CONVT_T_J0, CONVT_T_J1,
       CONVT_T_FIELDS };

/* Per-thread scratch, sized by convt_workspace_floats(). */
typedef struct {
    float *b;        /* kc x nc packed input block */
    float *c;        /* mc x nc accumulators */
    int64_t *coord;  /* nc x 4: n, md, mh, mw of each column */
    int64_t *ooff;   /* nc output offsets (without channel) */
    int64_t *src;    /* nc input offsets of the current tap, -1 outside */
    unsigned char *contig; /* nc / NR: 1 when a sliver reads 16 consecutive inputs */
} convt_workspace;

static int64_t convt_workspace_bytes(int64_t kc, int64_t mc, int64_t nc)
{
    return (kc * nc + mc * nc) * (int64_t)sizeof(float) + 6 * nc * (int64_t)sizeof(int64_t) +
           nc / CONVT_NR + 256;
}

static void convt_workspace_init(convt_workspace *ws, void *mem, int64_t kc, int64_t mc,
                                 int64_t nc)
{
    char *p = (char *)mem;
    ws->b = (float *)p;       p += kc * nc * sizeof(float);
    ws->c = (float *)p;       p += mc * nc * sizeof(float);
    ws->coord = (int64_t *)p; p += 4 * nc * sizeof(int64_t);
    ws->ooff = (int64_t *)p;  p += nc * sizeof(int64_t);
    ws->src = (int64_t *)p;   p += nc * sizeof(int64_t);
    ws->contig = (unsigned char *)p;
}

/* Input offsets of every column for tap t (relative to the group's first channel). */
static void convt_tap_offsets(const convt_geom *G, const convt_phase *P, int64_t t,
                              int64_t ncol, int64_t nsl, convt_workspace *ws)
{
    const int64_t *dl = P->delta + 3 * t;
    const int64_t ID = G->in_shape[0], IH = G->in_shape[1], IW = G->in_shape[2];
    const int64_t nstride = G->cin * G->in_size;
    for (int64_t j = 0; j < nsl * CONVT_NR; ++j) {
        int64_t off = -1;
        if (j < ncol) {
            const int64_t *cd = ws->coord + 4 * j;
            const int64_t id = cd[1] + dl[0], ih = cd[2] + dl[1], iw = cd[3] + dl[2];
            if (id >= 0 && id < ID && ih >= 0 && ih < IH && iw >= 0 && iw < IW)
                off = cd[0] * nstride + (id * IH + ih) * IW + iw;
        }
        ws->src[j] = off;
    }
    for (int64_t s = 0; s < nsl; ++s) {
        const int64_t *o = ws->src + s * CONVT_NR;
        int ok = o[0] >= 0 && o[CONVT_NR - 1] == o[0] + CONVT_NR - 1;
        for (int j = 1; ok && j < CONVT_NR; ++j) ok = o[j] == o[0] + j;
        ws->contig[s] = (unsigned char)ok;
    }
}

/* Pack rows k0 .. k0+kb of B (k = t*cig + ci) into slivers of CONVT_NR columns. */
static void convt_pack_b(const convt_geom *G, const convt_phase *P, const float *xg,
                         int64_t k0, int64_t kb, int64_t ncol, int64_t nsl,
                         convt_workspace *ws)
{
    int64_t t_cur = -1;
    for (int64_t kk = 0; kk < kb; ++kk) {
        const int64_t k = k0 + kk, t = k / G->cig, ci = k - t * G->cig;
        if (t != t_cur) {
            convt_tap_offsets(G, P, t, ncol, nsl, ws);
            t_cur = t;
        }
        const float *xc = xg + ci * G->in_size;
        for (int64_t s = 0; s < nsl; ++s) {
            float *dst = ws->b + (s * kb + kk) * CONVT_NR;
            const int64_t *o = ws->src + s * CONVT_NR;
            if (ws->contig[s]) {
                memcpy(dst, xc + o[0], CONVT_NR * sizeof(float));
            } else {
                for (int j = 0; j < CONVT_NR; ++j) dst[j] = o[j] >= 0 ? xc[o[j]] : 0.0f;
            }
        }
    }
}

static void convt_subconv_task(const convt_geom *G, const convt_phase *phases,
                               const float *apack, const float *x, const float *bias,
                               float *out, const int64_t *task, convt_workspace *ws,
                               convt_f32_ukr_fn ukr)
{
    const int64_t g = task[CONVT_T_GROUP], co0 = task[CONVT_T_CO0], co1 = task[CONVT_T_CO1];
    const int64_t j0 = task[CONVT_T_J0], j1 = task[CONVT_T_J1];
    const convt_phase *P = phases + task[CONVT_T_PHASE];
    const int64_t ncol = j1 - j0, nsl = (ncol + CONVT_NR - 1) / CONVT_NR, ldc = G->nc;
    const int64_t rows = co1 - co0, nrs = (rows + CONVT_MR - 1) / CONVT_MR;
    const int64_t K = P->ntaps * G->cig;
    const int64_t Md = P->mcount[0], Mh = P->mcount[1], Mw = P->mcount[2];
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];

    /* Column coordinates and output offsets, once per task. */
    for (int64_t jj = 0; jj < ncol; ++jj) {
        int64_t j = j0 + jj;
        const int64_t mw = j % Mw; j /= Mw;
        const int64_t mh = j % Mh; j /= Mh;
        const int64_t md = j % Md; j /= Md;
        int64_t *cd = ws->coord + 4 * jj;
        cd[0] = j; cd[1] = md; cd[2] = mh; cd[3] = mw;
        const int64_t od = P->residue[0] + G->stride[0] * md;
        const int64_t oh = P->residue[1] + G->stride[1] * mh;
        const int64_t ow = P->residue[2] + G->stride[2] * mw;
        ws->ooff[jj] = j * G->cout * G->out_size + (od * OH + oh) * OW + ow;
    }

    const float *xg = x + g * G->cig * G->in_size;
    const float *ag = apack + g * G->a_group_stride + P->a_offset + (co0 / CONVT_MR) * K * CONVT_MR;
    if (K == 0) {
        for (int64_t r = 0; r < rows; ++r) memset(ws->c + r * ldc, 0, ncol * sizeof(float));
    }
    for (int64_t k0 = 0; k0 < K; k0 += G->kc) {
        const int64_t kb = K - k0 < G->kc ? K - k0 : G->kc;
        convt_pack_b(G, P, xg, k0, kb, ncol, nsl, ws);
        for (int64_t s = 0; s < nsl; ++s) {
            const float *bs = ws->b + s * kb * CONVT_NR;
            for (int64_t q = 0; q < nrs; ++q) {
                const int64_t mr = rows - q * CONVT_MR < CONVT_MR ? rows - q * CONVT_MR : CONVT_MR;
                ukr(kb, ag + (q * K + k0) * CONVT_MR, bs,
                    ws->c + q * CONVT_MR * ldc + s * CONVT_NR, ldc, k0 > 0, (int)mr);
            }
        }
    }

    /* Epilogue: bias and the phase's strided positions; every output written once. */
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t co = g * G->cog + co0 + r;
        const float b = bias ? bias[co] : 0.0f;
        float *o = out + co * G->out_size;
        const float *cr = ws->c + r * ldc;
        for (int64_t jj = 0; jj < ncol; ++jj) o[ws->ooff[jj]] = cr[jj] + b;
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
