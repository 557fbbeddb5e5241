/* Direct transposed convolution for groups with very few output channels (depthwise and
 * similar), where a GEMM would use one or two of the micro-kernel's six rows.
 *
 * Same phase decomposition as subconv.h: for one output row (n, co, od, oh) and each W phase
 * rw, acc[mw] = sum over taps t of the phase and input channels ci of w * x[.., mw + delta_w]
 * (a vectorised axpy along W), then the sw phase rows are interleaved into the output row
 * with the bias.  Every output element is written once.
 */
#ifndef CONVT_DIRECT_H
#define CONVT_DIRECT_H

#include <stdint.h>
#include "geom.h"

typedef void (*convt_f32_axpy_fn)(float *acc, const float *x, float w, int64_t n);

/* acc[i] += w * x[i] (product and sum rounded separately): instantiated by the tiers without
 * FMA (tiers.h); x86 tiers use convt_f32_axpy_fma_impl. */
static CONVT_ALWAYS_INLINE void convt_f32_axpy_impl(float *CONVT_RESTRICT acc,
                                                    const float *CONVT_RESTRICT x, float w,
                                                    int64_t n)
{
    for (int64_t i = 0; i < n; ++i) acc[i] += w * x[i];
}

#if CONVT_HAVE_X86_KERNELS
/* The same with one rounding (FMA), 8 lanes at a time; inlined into AVX2-or-better tiers. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_axpy_fma_impl(float *CONVT_RESTRICT acc, const float *CONVT_RESTRICT x, float w,
                        int64_t n)
{
    const __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i),
                                                  _mm256_loadu_ps(acc + i)));
    for (; i < n; ++i) acc[i] += w * x[i];
}
#endif

/* Direct tasks: (n, co, p0, row0, row1): W group p0 .. p0+nw-1 (same rd, rh), rows of its
 * (md, mh) grid. */
enum { CONVT_D_N, CONVT_D_CO, CONVT_D_PHASE, CONVT_D_ROW0, CONVT_D_ROW1, CONVT_D_FIELDS };

/* Floats of per-thread scratch: one accumulator row per W phase. */
static int64_t convt_direct_scratch_floats(const convt_geom *G)
{
    const int64_t sw = G->stride[2];
    return G->nw * ((G->out_shape[2] + sw - 1) / sw) + 16;
}

static void convt_direct_task(const convt_geom *G, const convt_phase *phases, const float *w,
                              int64_t ksize, const float *x, const float *bias, float *out,
                              const int64_t *task, float *acc, convt_f32_axpy_fn axpy)
{
    const int64_t n = task[CONVT_D_N], co = task[CONVT_D_CO];
    const convt_phase *P0 = phases + task[CONVT_D_PHASE];
    const int64_t cig = G->cig, cog = G->cog, g = co / cog, cl = co - g * cog, nw = G->nw;
    const int64_t sd = G->stride[0], sh = G->stride[1], sw = G->stride[2];
    const int64_t ID = G->in_shape[0], IH = G->in_shape[1], IW = G->in_shape[2];
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];
    const int64_t Mh = P0->mcount[1], mwmax = (OW + sw - 1) / sw;
    const float b = bias ? bias[co] : 0.0f;
    const float *xn = x + (n * G->cin + g * cig) * G->in_size;
    const float *wg = w + (g * cig * cog + cl) * ksize;
    float *oc = out + (n * G->cout + co) * G->out_size;

    for (int64_t row = task[CONVT_D_ROW0]; row < task[CONVT_D_ROW1]; ++row) {
        const int64_t md = row / Mh, mh = row - md * Mh;
        for (int64_t i = 0; i < nw; ++i) {
            const convt_phase *P = P0 + i;
            const int64_t Mw = P->mcount[2];
            float *a = acc + i * mwmax;
            for (int64_t m = 0; m < Mw; ++m) a[m] = 0.0f;
            for (int64_t t = 0; t < P->ntaps; ++t) {
                const int64_t *dl = P->delta + 3 * t;
                const int64_t id = md + dl[0], ih = mh + dl[1];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) continue;
                const int64_t lo = dl[2] < 0 ? -dl[2] : 0;
                const int64_t hi = Mw < IW - dl[2] ? Mw : IW - dl[2];
                if (lo >= hi) continue;
                const float *xr = xn + (id * IH + ih) * IW + dl[2];
                for (int64_t ci = 0; ci < cig; ++ci)
                    axpy(a + lo, xr + ci * G->in_size + lo,
                         wg[ci * cog * ksize + P->kidx[t]], hi - lo);
            }
        }
        const int64_t od = P0->residue[0] + sd * md, oh = P0->residue[1] + sh * mh;
        float *orow = oc + (od * OH + oh) * OW;
        if (nw == sw) {  /* every W residue: write the row contiguously, interleaving */
            for (int64_t m = 0; m < mwmax; ++m)
                for (int64_t rw = 0; rw < sw && m * sw + rw < OW; ++rw)
                    orow[m * sw + rw] = acc[rw * mwmax + m] + b;
        } else {         /* other positions of the row hold the bias already */
            for (int64_t i = 0; i < nw; ++i)
                for (int64_t m = 0; m < P0[i].mcount[2]; ++m)
                    orow[P0[i].residue[2] + sw * m] = acc[i * mwmax + m] + b;
        }
    }
}

#endif
