/* One task driver for every GEMM variant (float and int8, every ISA tier).
 *
 * A variant (convt_gemm_kernel) is a micro-kernel with its tile (MR x NR, K granularity KR),
 * the packing of input panels that matches it, and the epilogue that turns accumulators into
 * output elements.  The driver below only moves bytes between them: per task it sets up the
 * columns, packs each phase's input panel once, sweeps the output channels over it in
 * MC x KC blocks and hands each finished block to the epilogue.
 */
#ifndef CONVT_GEMM_H
#define CONVT_GEMM_H

#include <stdint.h>
#include <string.h>
#include "geom.h"
#include "requant.h"
#include "ukr.h"

enum { CONVT_DT_F32 = 0, CONVT_DT_Q8 = 1 };

/* What the packing and the epilogue need beyond the geometry. */
typedef struct {
    const float *bias;          /* f32: (cout,) or NULL */
    const convt_requant *rq;    /* q8 */
    int32_t zx;                 /* q8: activation zero point */
    const int32_t *wsum;        /* q8 with raw-activation panels: sum of each packed weight
                                 * column, [group][phase][cog rounded up to MR]; else NULL */
    int64_t wsum_cog;           /* cog rounded up to MR */
} convt_epi;

/* Pack phase P's input panel for columns of the task (ws holds their coordinates). */
typedef void (*convt_pack_b_fn)(const convt_geom *G, const convt_phase *P, const void *xg,
                                int64_t ncol, int64_t nsl, void *panel, convt_workspace *ws,
                                const convt_epi *E);
/* Write rows co_first .. +rows of the nph accumulator blocks to the output. */
typedef void (*convt_epilogue_fn)(const convt_geom *G, const convt_phase *P0, int64_t nph,
                                  int64_t co_first, int64_t rows, int64_t ncol, int64_t nsl,
                                  const convt_epi *E, void *out, const convt_workspace *ws);

typedef struct {
    const char *name;       /* dtype-gemm-MRxNR-isa, as XNNPACK names its micro-kernels */
    int dtype;              /* CONVT_DT_* */
    int mr, kr;             /* tile rows; K granularity (a tap's rows are padded to KR) */
    int a_size, b_size;     /* bytes of a packed A / B element */
    int x_size;             /* bytes of an input element */
    int raw_activations;    /* 1: B holds x itself (taps outside the input read zx) and the
                             * weights must have zero point 0; zx*sum(w) is subtracted in the
                             * epilogue.  0: B holds x - zx (0 outside). */
    convt_ukr_fn ukr;
    convt_pack_b_fn pack_b;
    convt_epilogue_fn epilogue;
} convt_gemm_kernel;

/* Rows of a phase's packed panel. */
static int64_t convt_phase_k(const convt_geom *G, const convt_phase *P) { return P->ntaps * G->ckr; }

/* 1 when phases a and b read the input at the same tap offsets. */
static int convt_same_taps(const convt_phase *a, const convt_phase *b)
{
    return a->ntaps == b->ntaps &&
           memcmp(a->delta, b->delta, (size_t)(3 * a->ntaps) * sizeof(int64_t)) == 0;
}

/* The segments of rows k0 .. k0+kb of one sliver, from its per-tap segments (ckr rows each):
 * pieces of taps where the block starts or ends inside one, adjacent pieces merged. */
static int64_t convt_block_segs(const convt_bseg *tap, int64_t ckr, int64_t kr, int64_t k0,
                                int64_t kb, convt_bseg *out)
{
    int64_t n = 0, t = k0 ? k0 / ckr : 0, r = k0 - t * ckr;  /* taps are then stepped */
    for (int64_t left = kb; left > 0; ++t, r = 0) {
        const int64_t take = ckr - r < left ? ckr - r : left;
        const char *b = (const char *)tap[t].b + (r ? (r / kr) * tap[t].ld : 0);
        convt_bseg *last = out + n - 1;
        if (n > 0 && last->ld == tap[t].ld &&
            (const char *)last->b + (last->n / kr) * last->ld == b)
            last->n += take;
        else
            out[n++] = (convt_bseg){b, tap[t].ld, take};
        left -= take;
    }
    return n;
}

/* One task: out[n, g*cog + co0 .. co1, ...] for phases p0 .. p0+nph-1 at columns j0 .. j1
 * (see geom.h for the task fields). */
static void convt_gemm_task(const convt_gemm_kernel *V, const convt_geom *G,
                            const convt_phase *phases, const void *apack, const void *x,
                            const convt_epi *E, void *out, const int64_t *task,
                            convt_workspace *ws)
{
    const int64_t g = task[CONVT_T_GROUP], co0 = task[CONVT_T_CO0], co1 = task[CONVT_T_CO1];
    const int64_t j0 = task[CONVT_T_J0], j1 = task[CONVT_T_J1], nph = task[CONVT_T_NPH];
    const convt_phase *P0 = phases + task[CONVT_T_PHASE];
    const int64_t mr = V->mr, kr = V->kr, ldc = G->nc, cstride = G->mc * G->nc;
    const int64_t ncol = j1 - j0, nsl = (ncol + CONVT_NR - 1) / CONVT_NR;
    char *bpanel = (char *)ws->b;
    char *cbuf = (char *)ws->c;
    const char *ag = (const char *)apack + g * G->a_group_stride * V->a_size;

    convt_task_columns(G, P0, nph, j0, j1, ws);
    ws->x_lo = x;
    ws->x_hi = (const char *)x + G->batch * G->cin * G->in_size * V->x_size;
    const char *xg = (const char *)x + g * G->cig * G->in_size * V->x_size;
    /* Panels of the task's phases follow each other; phases with the same taps (every W
     * phase when kernel == stride, for instance) share one: columns past a phase's own grid
     * are never stored, so the panels are interchangeable. */
    int64_t off = 0, soff = 0;
    for (int64_t i = 0; i < nph; ++i) {
        int64_t h = 0;
        while (h < i && !convt_same_taps(P0 + h, P0 + i)) ++h;
        if (h < i) {
            ws->poff[i] = ws->poff[h];
            ws->soff[i] = ws->soff[h];
            continue;
        }
        ws->poff[i] = off;
        ws->soff[i] = soff;
        ws->seg_out = ws->segs + soff;
        V->pack_b(G, P0 + i, xg, ncol, nsl, bpanel + off * V->b_size, ws, E);
        off += nsl * convt_bsliver_stride(convt_phase_k(G, P0 + i), kr);
        soff += nsl * P0[i].ntaps;
    }

    for (int64_t c0 = co0; c0 < co1; c0 += G->mc) {
        const int64_t rows = co1 - c0 < G->mc ? co1 - c0 : G->mc;
        const int64_t nrs = (rows + mr - 1) / mr;
        for (int64_t i = 0; i < nph; ++i) {
            const convt_phase *P = P0 + i;
            const int64_t K = convt_phase_k(G, P);
            const char *ac = ag + (P->a_offset + (c0 / mr) * K * mr) * V->a_size;
            const convt_bseg *tsegs = ws->segs + ws->soff[i];
            char *cw = cbuf + i * cstride * 4;
            if (K == 0)
                for (int64_t r = 0; r < rows; ++r) memset(cw + r * ldc * 4, 0, ncol * 4);
            for (int64_t k0 = 0; k0 < K; k0 += G->kc) {
                const int64_t kb = K - k0 < G->kc ? K - k0 : G->kc;
                for (int64_t s = 0; s < nsl; ++s) {
                    const int64_t nseg = convt_block_segs(tsegs + s * P->ntaps, G->ckr, kr, k0,
                                                          kb, ws->blk);
                    for (int64_t q = 0; q < nrs; ++q) {
                        const int64_t left = rows - q * mr;
                        V->ukr(nseg, ws->blk, ac + (q * K + k0) * mr * V->a_size,
                               cw + (q * mr * ldc + s * CONVT_NR) * 4, ldc, k0 > 0,
                               (int)(left < mr ? left : mr));
                    }
                }
            }
            if (E->wsum) {  /* raw activations: subtract zx * (sum of the phase's weights) */
                const int32_t *wsum = E->wsum + (g * G->nphases + (P - phases)) * E->wsum_cog;
                for (int64_t r = 0; r < rows; ++r)
                    ws->comp[i * G->mc + r] =
                        (int32_t)(0u - (uint32_t)E->zx * (uint32_t)wsum[c0 + r]);
            }
        }
        V->epilogue(G, P0, nph, g * G->cog + c0, rows, ncol, nsl, E, out, ws);
    }
}

/* Index of weight (row r of tile q, k) in a phase's packed A: tiles of mr rows, k in groups
 * of kr consecutive values per row ([q][k/kr][r][k%kr]). */
static int64_t convt_a_index(int64_t q, int64_t k, int64_t r, int64_t K, int64_t mr, int64_t kr)
{
    return ((q * (K / kr) + k / kr) * mr + r) * kr + k % kr;
}

/* Pack weights w (cin, cog, KD, KH, KW; float32 or int8 by wtype) into per-(group, phase)
 * tiles of V's layout: row k = t*ckr + ci of phase P holds w[g*cig + ci, co, kidx[t]] minus
 * the zero point zw[g*cog + co] (int8; one per output channel), 0 for ci >= cig and co >= cog.
 * A forward convolution's weight (cout, cig, ...) arrives transposed to this layout.  For raw-activation variants
 * wsum[g][p][co] receives the sum of the packed column. */
static void convt_pack_a(const convt_gemm_kernel *V, const void *w, const int32_t *zw,
                         const convt_geom *G, int64_t ksize, const convt_phase *phases,
                         void *apack, int32_t *wsum, int64_t wsum_cog)
{
    const int64_t mr = V->mr, kr = V->kr, cig = G->cig, cog = G->cog, ckr = G->ckr;
    const int64_t nq = (cog + mr - 1) / mr;
    for (int64_t g = 0; g < G->groups; ++g) {
        for (int64_t p = 0; p < G->nphases; ++p) {
            const convt_phase *P = phases + p;
            const int64_t K = P->ntaps * ckr;
            const int64_t base = g * G->a_group_stride + P->a_offset;
            for (int64_t q = 0; q < nq; ++q)
                for (int64_t r = 0; r < mr; ++r) {
                    const int64_t co = q * mr + r;
                    int32_t sum = 0;
                    for (int64_t k = 0; k < K; ++k) {
                        const int64_t t = k / ckr, ci = k - t * ckr;
                        const int64_t at = base + convt_a_index(q, k, r, K, mr, kr);
                        const int ok = ci < cig && co < cog;
                        const int64_t wi = ok ? ((g * cig + ci) * cog + co) * ksize + P->kidx[t] : 0;
                        if (V->dtype == CONVT_DT_F32) {
                            ((float *)apack)[at] = ok ? ((const float *)w)[wi] : 0.0f;
                        } else {
                            const int32_t v = ok ? ((const int8_t *)w)[wi] - zw[g * cog + co] : 0;
                            sum += v;
                            if (V->a_size == 2) ((int16_t *)apack)[at] = (int16_t)v;
                            else ((int8_t *)apack)[at] = (int8_t)v;
                        }
                    }
                    if (wsum) wsum[(g * G->nphases + p) * wsum_cog + co] = sum;
                }
        }
    }
}

#endif
