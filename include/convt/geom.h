/* Geometry of a planned transposed convolution and the per-task column bookkeeping that
 * every GEMM variant shares (float and int8, every ISA tier).
 *
 * Transposed convolution as stride-phase sub-convolutions ("subconv"): every spatial
 * dimension is normalised to 3 (D, H, W; unit dimensions for 1-D and 2-D).  Per dimension,
 * the output positions o with o % stride == r form phase r; in phase r,
 *     out[r + s*m] = sum over taps k with (r + p - k*d) % s == 0 of  w[k] * x[m + delta_k],
 *     delta_k = (r + p - k*d) / s,
 * so each phase is a dense correlation with a sub-kernel.  A phase of the 3-D output is a
 * product of per-dimension phases; together the phases partition the output.  Per (group,
 * phase) this is one GEMM:
 *     C[co, col] = sum_{(t, ci)} A[co, (t, ci)] * B[(t, ci), col]
 *     A = packed weights (taps of the phase, t outer, ci inner),
 *     B = input gathered at the tap offsets,
 *     col = (n, md, mh, mw) over the phase's output grid and the batch.
 * Each output element is written exactly once, after all its taps are summed: no
 * scatter-add, no col buffer, and tasks (disjoint output blocks) never race.  Stride 1 is
 * the ordinary convolution (one phase), kernel == stride is one tap per phase (pixel shuffle).
 *
 * Forward convolution is the same computation with one phase (residue 0, output stride 1)
 * whose taps read the input at i = m*stride + delta_k, delta_k = k*d - p: the input steps
 * are G->istride (1 for a transposed convolution).  Along W the input is always read with
 * unit step, so a forward convolution strided along W reads a copy split into its W residues
 * (_plan.py): each tap then has its own W extent (wlim) and start in the row (xoff).
 *
 * Columns come in slivers of CONVT_NR = 16 (every micro-kernel's width).  A task computes
 * the W phases that share (rd, rh) together, for the same columns, so the epilogue writes
 * each output row contiguously, interleaving phases.
 */
#ifndef CONVT_GEOM_H
#define CONVT_GEOM_H

#include <stdint.h>
#include <string.h>
#include "cpu.h"
#include "ukr.h"

#define CONVT_NR 16

typedef struct {
    int64_t batch, cin, cout, groups, cig, cog;
    int64_t in_shape[3], out_shape[3];
    int64_t stride[3];              /* output step per phase-grid position (1: forward) */
    int64_t istride[3];             /* input step per grid position along D, H (1: transposed);
                                     * W is always 1 */
    int64_t in_size, out_size;      /* products of in_shape (W: the row pitch) / out_shape */
    int64_t ckr;                    /* rows per tap in packed panels: cig rounded up to KR */
    int64_t kc, mc, nc;             /* K block (multiple of KR), channel block (multiple of
                                     * MR), column block (multiple of NR) */
    int64_t kpanel;                 /* largest sum over a task's phases of (taps*ckr + KR) */
    int64_t nw;                     /* phases per W group (W residues that taps reach) */
    int64_t nphases;                /* phases in the table */
    int64_t a_group_stride;         /* packed A elements per group */
} convt_geom;

typedef struct {
    int64_t ntaps;
    int64_t residue[3];             /* output positions r + stride*m of this phase */
    int64_t mcount[3];              /* phase grid */
    int64_t wcols;                  /* columns per row in the task column grid: mcount[2], or
                                     * that rounded up to whole slivers (padding columns are
                                     * computed, never stored) */
    int64_t a_offset;               /* start of this phase's packed A within a group */
    const int64_t *delta;           /* ntaps x 3 input offsets: i = m*istride + delta */
    const int64_t *kidx;            /* ntaps flattened kernel indices (kd*KH + kh)*KW + kw */
    const int64_t *wlim;            /* ntaps: a tap reads W positions 0 <= iw < wlim */
    const int64_t *xoff;            /* ntaps: where a tap's W positions start in a row */
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
    void *b;         /* packed input panels: nc/NR slivers of (K + KR) x NR per phase */
    void *c;         /* nph x mc x nc accumulators (float or int32) */
    int32_t *comp;   /* nph x mc: per-row int32 addends of the int8 epilogue */
    int64_t *poff;   /* nph: offset of each phase's panel in b (phases may share one) */
    const void *x_lo, *x_hi;  /* the whole input buffer: vector loads stay inside it */
    convt_bseg *segs;         /* per phase, sliver and tap: where its rows are,
                               * [s * ntaps + t] from each phase's segment offset */
    convt_bseg *seg_out;      /* where the packer writes the phase it packs */
    int64_t *soff;            /* nph: offset of each phase's segments in segs */
    convt_bseg *blk;          /* the segments of one K block of one sliver */
    int64_t *coord;  /* nc x 4: n, md, mh, mw of each column */
    int64_t *ooff;   /* nc output offsets of W position sw*mw (without channel and residue) */
    int64_t *src;    /* nc input offsets of the current tap, -1 outside */
    unsigned char *kind;    /* nc / NR: CONVT_SL_* of each sliver for the current tap */
    unsigned char *lo, *hi; /* nc / NR: valid span [lo, hi) of a CONVT_SL_SPAN sliver */
    unsigned char *orun;    /* nc / NR: 1 when a sliver's sw*16 outputs are one full run */
    unsigned char *rowsl;   /* nc / NR: 1 when a sliver's columns are mw0 .. mw0+15 of one row */
    int64_t *base;          /* nc / NR: input offset of column 0 (FULL and SPAN slivers) */
    /* GATHER slivers as runs of columns that read consecutive inputs (short rows: a sliver
     * over two rows of 8 is two runs), nrun[s] of them: columns run_j[s*NR + r] ..
     * + run_n[s*NR + r] read from run_src[s*NR + r] on; the other columns read nothing. */
    unsigned char *nrun, *run_j, *run_n;
    int64_t *run_src;
} convt_workspace;

/* Elements between the slivers of a packed panel with K rows (K a multiple of kr): one extra
 * kr-row, since slivers K*64 bytes apart alias to the same L1 sets whenever K is a multiple
 * of 64; it also keeps kr-wide reads past the last row inside the panel. */
static int64_t convt_bsliver_stride(int64_t K, int64_t kr) { return (K + kr) * CONVT_NR; }

/* Bytes of one thread's workspace; esize = bytes per packed B element. */
static int64_t convt_workspace_bytes(int64_t kpanel, int64_t esize, int64_t nph, int64_t mc,
                                     int64_t nc)
{
    return ((kpanel * nc * esize + 63) / 64 + (nph * mc * nc * 4 + 63) / 64 +
            (nph * mc * 4 + 63) / 64) * 64 +
           (kpanel * (nc / CONVT_NR) + kpanel + 1) * (int64_t)sizeof(convt_bseg) +
           (8 * nc + 2 * nph) * (int64_t)sizeof(int64_t) + 6 * (nc / CONVT_NR) + 2 * nc + 256;
}

/* mem is 64-byte aligned; so are the panels and accumulators. */
static void convt_workspace_init(convt_workspace *ws, void *mem, int64_t kpanel, int64_t esize,
                                 int64_t nph, int64_t mc, int64_t nc)
{
    char *p = (char *)mem;
    const int64_t nsl = nc / CONVT_NR;
    ws->b = p;                p += (kpanel * nc * esize + 63) / 64 * 64;
    ws->c = p;                p += (nph * mc * nc * 4 + 63) / 64 * 64;
    ws->comp = (int32_t *)p;  p += (nph * mc * 4 + 63) / 64 * 64;
    ws->coord = (int64_t *)p; p += 4 * nc * sizeof(int64_t);
    ws->ooff = (int64_t *)p;  p += nc * sizeof(int64_t);
    ws->src = (int64_t *)p;   p += nc * sizeof(int64_t);
    ws->base = (int64_t *)p;  p += nc * sizeof(int64_t);
    ws->run_src = (int64_t *)p; p += nc * sizeof(int64_t);
    ws->poff = (int64_t *)p;  p += nph * sizeof(int64_t);
    ws->soff = (int64_t *)p;  p += nph * sizeof(int64_t);
    ws->segs = (convt_bseg *)p; p += kpanel * nsl * sizeof(convt_bseg);
    ws->blk = (convt_bseg *)p;  p += (kpanel + 1) * sizeof(convt_bseg);
    ws->kind = (unsigned char *)p; p += nsl;
    ws->lo = (unsigned char *)p;   p += nsl;
    ws->hi = (unsigned char *)p;   p += nsl;
    ws->orun = (unsigned char *)p;  p += nsl;
    ws->nrun = (unsigned char *)p;  p += nsl;
    ws->run_j = (unsigned char *)p; p += nc;
    ws->run_n = (unsigned char *)p; p += nc;
    ws->rowsl = (unsigned char *)p;
}

/* The runs of a GATHER sliver's offsets o[0 .. NR) (see convt_workspace). */
static void convt_runs(const int64_t *o, unsigned char *nrun, unsigned char *rj,
                       unsigned char *rn, int64_t *rsrc)
{
    int n = 0;
    for (int j = 0; j < CONVT_NR;) {
        if (o[j] < 0) { ++j; continue; }
        int len = 1;
        while (j + len < CONVT_NR && o[j + len] == o[j] + len) ++len;
        rj[n] = (unsigned char)j;
        rn[n] = (unsigned char)len;
        rsrc[n] = o[j];
        ++n;
        j += len;
    }
    *nrun = (unsigned char)n;
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
    const int64_t isd = G->istride[0], ish = G->istride[1];
    const int64_t wlim = P->wlim[t], xo = P->xoff[t];
    const int64_t nstride = G->cin * G->in_size, Mw = P->mcount[2];
    /* valid mw: mw < Mw and 0 <= mw + dw < wlim */
    const int64_t mw_lo = dl[2] < 0 ? -dl[2] : 0;
    const int64_t mw_hi = Mw < wlim - dl[2] ? Mw : wlim - dl[2];
    for (int64_t s = 0; s < nsl; ++s) {
        const int64_t *cd = ws->coord + 4 * s * CONVT_NR;
        if (ws->rowsl[s]) {
            const int64_t id = cd[1] * isd + dl[0], ih = cd[2] * ish + dl[1], mw0 = cd[3];
            int64_t lo = mw_lo - mw0, hi = mw_hi - mw0;
            lo = lo < 0 ? 0 : lo;
            hi = hi > CONVT_NR ? CONVT_NR : hi;
            if (id < 0 || id >= ID || ih < 0 || ih >= IH || lo >= hi) {
                ws->kind[s] = CONVT_SL_ZERO;
                ws->base[s] = 0;
                continue;
            }
            ws->base[s] = cd[0] * nstride + (id * IH + ih) * IW + xo + mw0 + dl[2];
            ws->lo[s] = (unsigned char)lo;
            ws->hi[s] = (unsigned char)hi;
            ws->kind[s] = lo == 0 && hi == CONVT_NR ? CONVT_SL_FULL : CONVT_SL_SPAN;
            continue;
        }
        int64_t *o = ws->src + s * CONVT_NR;
        for (int64_t j = 0; j < CONVT_NR; ++j, cd += 4) {
            int64_t off = -1;
            if (s * CONVT_NR + j < ncol) {
                const int64_t id = cd[1] * isd + dl[0], ih = cd[2] * ish + dl[1];
                const int64_t iw = cd[3] + dl[2];
                if (cd[3] < Mw && id >= 0 && id < ID && ih >= 0 && ih < IH && iw >= 0 && iw < wlim)
                    off = cd[0] * nstride + (id * IH + ih) * IW + xo + iw;
            }
            o[j] = off;
        }
        convt_classify(o, ws->kind + s, ws->lo + s, ws->hi + s);
        ws->base[s] = ws->kind[s] == CONVT_SL_ZERO ? 0 : o[ws->lo[s]] - ws->lo[s];
        if (ws->kind[s] == CONVT_SL_GATHER)
            convt_runs(o, ws->nrun + s, ws->run_j + s * CONVT_NR, ws->run_n + s * CONVT_NR,
                       ws->run_src + s * CONVT_NR);
    }
}

/* Per-task column setup shared by every variant: coordinates (n, md, mh, mw)
 * of columns j0 .. j1 of P0's grid, their output offsets, which slivers are one input row
 * (rowsl) and which are one contiguous output run over all W phases (orun). */
static void convt_task_columns(const convt_geom *G, const convt_phase *P0, int64_t nph,
                               int64_t j0, int64_t j1, convt_workspace *ws)
{
    const int64_t sw = G->stride[2], ncol = j1 - j0, nsl = (ncol + CONVT_NR - 1) / CONVT_NR;
    const int64_t Md = P0->mcount[0], Mh = P0->mcount[1], Mw = P0->wcols;
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];
    /* (n, md, mh, mw) of column j0 by division once, then counted up (divisions per column
     * cost as much as the arithmetic of a small problem) */
    int64_t j = j0, mw = j % Mw, mh, md, n;
    j /= Mw; mh = j % Mh; j /= Mh; md = j % Md; n = j / Md;
    for (int64_t jj = 0; jj < ncol; ++jj) {
        int64_t *cd = ws->coord + 4 * jj;
        cd[0] = n; cd[1] = md; cd[2] = mh; cd[3] = mw;
        const int64_t od = P0->residue[0] + G->stride[0] * md;
        const int64_t oh = P0->residue[1] + G->stride[1] * mh;
        ws->ooff[jj] = n * G->cout * G->out_size + (od * OH + oh) * OW + sw * mw;
        if (++mw == Mw) {
            mw = 0;
            if (++mh == Mh) {
                mh = 0;
                if (++md == Md) { md = 0; ++n; }
            }
        }
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

#endif
