/* Direct transposed convolution for groups with very few output channels (depthwise and
 * similar), where a GEMM would use one or two of the micro-kernel's rows.  Float and int8.
 *
 * Same phase decomposition as the GEMM path (geom.h), both directions: for one output row
 * (n, co, od, oh) and each W phase rw, acc[mw] = sum over taps t of the phase and input
 * channels ci of w * x[.., mw + delta_w] (a vectorised axpy along W: float, or exact int32 of (x - zx) with
 * the int16 weight w - zw), then the W phase rows are written into the output row with the
 * bias (float) or requantized once (int8).  Every output element is written once.
 */
#ifndef CONVT_DIRECT_H
#define CONVT_DIRECT_H

#include <stdint.h>
#include "geom.h"
#include "gemm.h"
#include "requant.h"

typedef void (*convt_f32_axpy_fn)(float *acc, const float *x, float w, int64_t n);
typedef void (*convt_s32_axpy_fn)(int32_t *acc, const uint8_t *x, int32_t zx, int32_t w,
                                  int64_t n);

/* acc[i] += w * x[i] (product and sum rounded separately): instantiated by the tiers without
 * FMA (tiers.h); x86 tiers use convt_f32_axpy_fma_impl. */
static CONVT_ALWAYS_INLINE void convt_f32_axpy_impl(float *CONVT_RESTRICT acc,
                                                    const float *CONVT_RESTRICT x, float w,
                                                    int64_t n)
{
    for (int64_t i = 0; i < n; ++i) acc[i] += w * x[i];
}

#if CONVT_HAVE_X86_KERNELS
/* The same with one rounding (FMA), 8 lanes at a time; inlined into AVX2-or-better tiers.
 * The tail is a scalar FMA too: an element rounds the same whether a W tile puts it in the
 * vector body or the tail, so results never depend on where a tile starts. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_axpy_fma_impl(float *CONVT_RESTRICT acc, const float *CONVT_RESTRICT x, float w,
                        int64_t n)
{
    const __m256 wv = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + i),
                                                  _mm256_loadu_ps(acc + i)));
    for (; i < n; ++i)
        acc[i] = _mm_cvtss_f32(_mm_fmadd_ss(_mm256_castps256_ps128(wv), _mm_set_ss(x[i]),
                                            _mm_set_ss(acc[i])));
}
#endif

/* acc[i] += w * (x[i] - zx), wrapping like every int32 accumulator (unsigned arithmetic);
 * instantiated per tier (tiers.h). */
static CONVT_ALWAYS_INLINE void convt_s32_axpy_impl(int32_t *CONVT_RESTRICT acc,
                                                    const uint8_t *CONVT_RESTRICT x, int32_t zx,
                                                    int32_t w, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + (uint32_t)(w * ((int32_t)x[i] - zx)));
}

/* Direct tasks: (n, co, p0, row0, row1, m0, m1): W group p0 .. p0+nw-1 (same rd, rh), rows
 * of its (md, mh) grid, W grid positions m0 .. m1-1 (at most ``mtile`` of them: the scratch
 * stays bounded however long a row is, and a single long row splits across threads). */
enum { CONVT_D_N, CONVT_D_CO, CONVT_D_PHASE, CONVT_D_ROW0, CONVT_D_ROW1, CONVT_D_M0, CONVT_D_M1,
       CONVT_D_FIELDS };

/* 4-byte elements of per-thread scratch: one accumulator row of mtile per W phase. */
static int64_t convt_direct_scratch_floats(const convt_geom *G, int64_t mtile)
{
    return G->nw * mtile + 16;
}

/* A tier's direct task (tiers.h instantiates convt_direct_task_impl per tier). */
typedef void (*convt_direct_fn)(int q8, const convt_geom *G, const convt_phase *phases,
                                const void *w, int64_t ksize, const void *x,
                                const convt_epi *E, void *out, const int64_t *task, void *acc,
                                int64_t mtile);

/* One direct task.  Float: x, w, out float32, E->bias; int8: x, out uint8, w the int16
 * weights w - zw, E->zx and E->rq.  acc: convt_direct_scratch_floats(G, mtile) elements.
 * Always inlined with a constant q8 and the tier's axpys and requantization (tiers.h), so
 * each dtype and tier gets its own loop.  Each element's sum runs over the same taps in the same order wherever the task's
 * W range starts, so results do not depend on the tiling. */
static CONVT_ALWAYS_INLINE void
convt_direct_task_impl(const int q8, const convt_geom *G, const convt_phase *phases,
                       const void *w, int64_t ksize, const void *x, const convt_epi *E,
                       void *out, const int64_t *task, void *acc, int64_t mtile,
                       convt_f32_axpy_fn f32_axpy, convt_s32_axpy_fn s32_axpy,
                       convt_requant16_fn requant16)
{
    const int64_t n = task[CONVT_D_N], co = task[CONVT_D_CO];
    const convt_phase *P0 = phases + task[CONVT_D_PHASE];
    const int64_t cig = G->cig, cog = G->cog, g = co / cog, cl = co - g * cog, nw = G->nw;
    const int64_t sd = G->stride[0], sh = G->stride[1], sw = G->stride[2];
    const int64_t isd = G->istride[0], ish = G->istride[1];
    const int64_t ID = G->in_shape[0], IH = G->in_shape[1], IW = G->in_shape[2];
    const int64_t OH = G->out_shape[1], OW = G->out_shape[2];
    const int64_t Mh = P0->mcount[1], m0 = task[CONVT_D_M0], m1 = task[CONVT_D_M1];
    const int64_t esize = q8 ? 1 : 4;  /* bytes of an input / output element */
    const int64_t xoff = (n * G->cin + g * cig) * G->in_size, woff = (g * cig * cog + cl) * ksize;
    const int64_t ooff = (n * G->cout + co) * G->out_size;
    const float b = (!q8 && E->bias) ? E->bias[co] : 0.0f;

    for (int64_t row = task[CONVT_D_ROW0]; row < task[CONVT_D_ROW1]; ++row) {
        const int64_t md = row / Mh, mh = row - md * Mh;
        for (int64_t i = 0; i < nw; ++i) {
            const convt_phase *P = P0 + i;
            /* this phase's positions m0 .. mend-1, at acc row offsets 0 .. mend-m0-1 */
            const int64_t mend = P->mcount[2] < m1 ? P->mcount[2] : m1;
            if (mend <= m0) continue;
            char *a = (char *)acc + i * mtile * 4;
            memset(a, 0, (mend - m0) * 4);  /* 0.0f and 0 */
            for (int64_t t = 0; t < P->ntaps; ++t) {
                const int64_t *dl = P->delta + 3 * t;
                const int64_t id = md * isd + dl[0], ih = mh * ish + dl[1], wlim = P->wlim[t];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) continue;
                /* m with 0 <= m + dl[2] < wlim */
                const int64_t lo = m0 > -dl[2] ? m0 : -dl[2];
                const int64_t hi = mend < wlim - dl[2] ? mend : wlim - dl[2];
                if (lo >= hi) continue;
                const int64_t xr = xoff + (id * IH + ih) * IW + P->xoff[t] + dl[2] + lo;
                for (int64_t ci = 0; ci < cig; ++ci) {
                    const int64_t wi = woff + ci * cog * ksize + P->kidx[t];
                    const int64_t xi = xr + ci * G->in_size;
                    if (q8)
                        s32_axpy((int32_t *)a + (lo - m0), (const uint8_t *)x + xi, E->zx,
                                ((const int16_t *)w)[wi], hi - lo);
                    else
                        f32_axpy((float *)a + (lo - m0), (const float *)x + xi,
                                ((const float *)w)[wi], hi - lo);
                }
            }
        }
        const int64_t od = P0->residue[0] + sd * md, oh = P0->residue[1] + sh * mh;
        char *orow = (char *)out + (ooff + (od * OH + oh) * OW) * esize;
        if (q8) {  /* requantize each phase row, 16 at a time, then place it */
            uint8_t tmp[16], *o8 = (uint8_t *)orow;
            for (int64_t i = 0; i < nw; ++i) {
                const int64_t n_m = (P0[i].mcount[2] < m1 ? P0[i].mcount[2] : m1) - m0;
                const int32_t *a = (const int32_t *)acc + i * mtile;
                uint8_t *o = o8 + P0[i].residue[2] + sw * m0;
                int64_t m = 0;
                for (; m + 16 <= n_m; m += 16) {
                    requant16(E->rq, co, a + m, 0, tmp);
                    for (int j = 0; j < 16; ++j) o[sw * (m + j)] = tmp[j];
                }
                for (; m < n_m; ++m) o[sw * m] = convt_requant_one(E->rq, co, a[m]);
            }
        } else if (nw == sw) {  /* every W residue: write the row contiguously, interleaving */
            const float *a = (const float *)acc;
            float *of = (float *)orow;
            for (int64_t m = m0; m < m1; ++m)
                for (int64_t rw = 0; rw < sw && m * sw + rw < OW; ++rw)
                    of[m * sw + rw] = a[rw * mtile + (m - m0)] + b;
        } else {  /* other positions of the row hold the bias already */
            const float *a = (const float *)acc;
            float *of = (float *)orow;
            for (int64_t i = 0; i < nw; ++i) {
                const int64_t mend = P0[i].mcount[2] < m1 ? P0[i].mcount[2] : m1;
                for (int64_t m = m0; m < mend; ++m)
                    of[P0[i].residue[2] + sw * m] = a[i * mtile + (m - m0)] + b;
            }
        }
    }
}

#endif
