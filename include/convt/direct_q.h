/* Direct quantized kernel for groups with very few output channels (depthwise and similar):
 * the float direct kernel's structure (direct.h) with exact int32 accumulation of
 * (w - zw) * (x - zx) and one requantization per output (requant.h). */
#ifndef CONVT_DIRECT_Q_H
#define CONVT_DIRECT_Q_H

#include <stdint.h>
#include "direct.h"
#include "requant.h"

typedef void (*convt_s32_axpy_fn)(int32_t *acc, const uint8_t *x, int32_t zx, int32_t w,
                                  int64_t n);

/* acc[i] += w * (x[i] - zx), wrapping like every int32 accumulator (unsigned arithmetic);
 * instantiated per tier (tiers.h). */
static CONVT_ALWAYS_INLINE void convt_s32_axpy_impl(int32_t *CONVT_RESTRICT acc,
                                                    const uint8_t *CONVT_RESTRICT x, int32_t zx,
                                                    int32_t w, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + (uint32_t)(w * ((int32_t)x[i] - zx)));
}

/* Same tasks as convt_direct_task; w16 holds (w - zw) as int16 (cin, cog, ksize). */
static void convt_direct_task_q8(const convt_geom *G, const convt_phase *phases,
                                 const int16_t *w16, int64_t ksize, const uint8_t *x,
                                 int32_t zx, const convt_requant *rq, uint8_t *out,
                                 const int64_t *task, int32_t *acc, convt_s32_axpy_fn axpy)
{
    const int64_t n = task[CONVT_D_N], co = task[CONVT_D_CO];
    const convt_phase *P0 = phases + task[CONVT_D_PHASE];
    const int64_t cig = G->cig, cog = G->cog, g = co / cog, cl = co - g * cog, nw = G->nw;
    const int64_t sd = G->stride[0], sh = G->stride[1], sw = G->stride[2];
    const int64_t ID = G->in_shape[0], IH = G->in_shape[1], IW = G->in_shape[2];
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];
    const int64_t Mh = P0->mcount[1], mwmax = (OW + sw - 1) / sw;
    const uint8_t *xn = x + (n * G->cin + g * cig) * G->in_size;
    const int16_t *wg = w16 + (g * cig * cog + cl) * ksize;
    uint8_t *oc = out + (n * G->cout + co) * G->out_size;
    uint8_t tmp[16];

    for (int64_t row = task[CONVT_D_ROW0]; row < task[CONVT_D_ROW1]; ++row) {
        const int64_t md = row / Mh, mh = row - md * Mh;
        for (int64_t i = 0; i < nw; ++i) {
            const convt_phase *P = P0 + i;
            const int64_t Mw = P->mcount[2];
            int32_t *a = acc + i * mwmax;
            for (int64_t m = 0; m < Mw; ++m) a[m] = 0;
            for (int64_t t = 0; t < P->ntaps; ++t) {
                const int64_t *dl = P->delta + 3 * t;
                const int64_t id = md + dl[0], ih = mh + dl[1];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) continue;
                const int64_t lo = dl[2] < 0 ? -dl[2] : 0;
                const int64_t hi = Mw < IW - dl[2] ? Mw : IW - dl[2];
                if (lo >= hi) continue;
                const uint8_t *xr = xn + (id * IH + ih) * IW + dl[2];
                for (int64_t ci = 0; ci < cig; ++ci)
                    axpy(a + lo, xr + ci * G->in_size + lo, zx,
                         wg[ci * cog * ksize + P->kidx[t]], hi - lo);
            }
        }
        const int64_t od = P0->residue[0] + sd * md, oh = P0->residue[1] + sh * mh;
        uint8_t *orow = oc + (od * OH + oh) * OW;
        for (int64_t i = 0; i < nw; ++i) {
            const int64_t Mw = P0[i].mcount[2], r = P0[i].residue[2];
            const int32_t *a = acc + i * mwmax;
            int64_t m = 0;
            for (; m + 16 <= Mw; m += 16) {  /* requantize 16 at a time, then place them */
                convt_requant16(rq, co, a + m, 0, tmp);
                for (int j = 0; j < 16; ++j) orow[r + sw * (m + j)] = tmp[j];
            }
            for (; m < Mw; ++m) orow[r + sw * m] = convt_requant_one(rq, co, a[m]);
        }
    }
}

#endif
