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
/* Four axpys in one pass, applied in order (x[0] with w[0] first): each element gets exactly
 * the operations of four consecutive axpys, with one load and store of acc instead of four. */
typedef void (*convt_f32_axpy4_fn)(float *acc, const float *const *x, const float *w,
                                   int64_t n);
typedef void (*convt_s32_axpy4_fn)(int32_t *acc, const uint8_t *const *x, int32_t zx,
                                   const int32_t *w, int64_t n);

/* acc[i] += w * x[i] (product and sum rounded separately): instantiated by the tiers without
 * FMA (tiers.h); x86 tiers use convt_f32_axpy_fma_impl. */
static CONVT_ALWAYS_INLINE void convt_f32_axpy_impl(float *CONVT_RESTRICT acc,
                                                    const float *CONVT_RESTRICT x, float w,
                                                    int64_t n)
{
    for (int64_t i = 0; i < n; ++i) acc[i] += w * x[i];
}

static CONVT_ALWAYS_INLINE void convt_f32_axpy4_impl(float *CONVT_RESTRICT acc,
                                                     const float *const *x, const float *w,
                                                     int64_t n)
{
    const float *CONVT_RESTRICT x0 = x[0], *CONVT_RESTRICT x1 = x[1];
    const float *CONVT_RESTRICT x2 = x[2], *CONVT_RESTRICT x3 = x[3];
    for (int64_t i = 0; i < n; ++i)
        acc[i] = (((acc[i] + w[0] * x0[i]) + w[1] * x1[i]) + w[2] * x2[i]) + w[3] * x3[i];
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

static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_f32_axpy4_fma_impl(float *CONVT_RESTRICT acc, const float *const *x, const float *w,
                         int64_t n)
{
    const float *CONVT_RESTRICT x0 = x[0], *CONVT_RESTRICT x1 = x[1];
    const float *CONVT_RESTRICT x2 = x[2], *CONVT_RESTRICT x3 = x[3];
    const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]);
    const __m256 w2 = _mm256_set1_ps(w[2]), w3 = _mm256_set1_ps(w[3]);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(acc + i);
        a = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + i), a);
        a = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + i), a);
        a = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x2 + i), a);
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(w3, _mm256_loadu_ps(x3 + i), a));
    }
    for (; i < n; ++i) {
        __m128 a = _mm_set_ss(acc[i]);
        a = _mm_fmadd_ss(_mm256_castps256_ps128(w0), _mm_set_ss(x0[i]), a);
        a = _mm_fmadd_ss(_mm256_castps256_ps128(w1), _mm_set_ss(x1[i]), a);
        a = _mm_fmadd_ss(_mm256_castps256_ps128(w2), _mm_set_ss(x2[i]), a);
        acc[i] = _mm_cvtss_f32(_mm_fmadd_ss(_mm256_castps256_ps128(w3), _mm_set_ss(x3[i]), a));
    }
}
#endif

/* acc[i] += w * (x[i] - zx), wrapping like every int32 accumulator (unsigned arithmetic);
 * instantiated per tier (tiers.h). */
static CONVT_ALWAYS_INLINE void convt_s32_axpy_impl(int32_t *CONVT_RESTRICT acc,
                                                    const uint8_t *CONVT_RESTRICT x, int32_t zx,
                                                    int32_t w, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)  /* as in convt_s32_axpy4_impl */
        for (int j = 0; j < 16; ++j)
            acc[i + j] = (int32_t)((uint32_t)acc[i + j] + (uint32_t)(w * ((int32_t)x[i + j] - zx)));
    for (; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + (uint32_t)(w * ((int32_t)x[i] - zx)));
}

static CONVT_ALWAYS_INLINE void convt_s32_axpy4_impl(int32_t *CONVT_RESTRICT acc,
                                                     const uint8_t *const *x, int32_t zx,
                                                     const int32_t *w, int64_t n)
{
    const uint8_t *CONVT_RESTRICT x0 = x[0], *CONVT_RESTRICT x1 = x[1];
    const uint8_t *CONVT_RESTRICT x2 = x[2], *CONVT_RESTRICT x3 = x[3];
    /* weights in locals: read through w inside the loop they could alias acc, and the loop
     * would not vectorise */
    const uint32_t w0 = (uint32_t)w[0], w1 = (uint32_t)w[1], w2 = (uint32_t)w[2];
    const uint32_t w3 = (uint32_t)w[3];
    const uint32_t c = 0u - (uint32_t)zx * (w0 + w1 + w2 + w3);
    int64_t i = 0;
    /* blocks of 16: one vector of int32 lanes (left to itself GCC vectorises 64 at a time and
     * leaves up to 63 elements, half of a typical row, to a scalar loop) */
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j)
            acc[i + j] = (int32_t)((uint32_t)acc[i + j] + c + w0 * x0[i + j] + w1 * x1[i + j] +
                                   w2 * x2[i + j] + w3 * x3[i + j]);
    for (; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + c + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] +
                           w3 * x3[i]);
}

#if CONVT_HAVE_X86_KERNELS
/* The same on AVX2 with vpmaddwd: x and w as int16 pairs (x <= 255, |w| <= 255), each pair's
 * products summed exactly in int32: the same int32 as the scalar loop, 16 lanes a step. */
static CONVT_ALWAYS_INLINE CONVT_TARGET_AVX2 void
convt_s32_axpy4_avx2_impl(int32_t *CONVT_RESTRICT acc, const uint8_t *const *x, int32_t zx,
                          const int32_t *w, int64_t n)
{
    const uint8_t *CONVT_RESTRICT x0 = x[0], *CONVT_RESTRICT x1 = x[1];
    const uint8_t *CONVT_RESTRICT x2 = x[2], *CONVT_RESTRICT x3 = x[3];
    const uint32_t w0 = (uint32_t)w[0], w1 = (uint32_t)w[1], w2 = (uint32_t)w[2];
    const uint32_t w3 = (uint32_t)w[3];
    const uint32_t c = 0u - (uint32_t)zx * (w0 + w1 + w2 + w3);
    const __m256i w01 = _mm256_set1_epi32((int32_t)((w0 & 0xffffu) | (w1 << 16)));
    const __m256i w23 = _mm256_set1_epi32((int32_t)((w2 & 0xffffu) | (w3 << 16)));
    const __m256i cv = _mm256_set1_epi32((int32_t)c);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i a0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x0 + i)));
        const __m256i a1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x1 + i)));
        const __m256i a2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x2 + i)));
        const __m256i a3 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x3 + i)));
        /* unpack within 128-bit lanes: lo holds elements 0-3 and 8-11, hi 4-7 and 12-15 */
        const __m256i lo = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(a0, a1), w01),
                                            _mm256_madd_epi16(_mm256_unpacklo_epi16(a2, a3), w23));
        const __m256i hi = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(a0, a1), w01),
                                            _mm256_madd_epi16(_mm256_unpackhi_epi16(a2, a3), w23));
        __m256i *p = (__m256i *)(acc + i);
        _mm256_storeu_si256(p, _mm256_add_epi32(_mm256_loadu_si256(p), _mm256_add_epi32(
                                   cv, _mm256_permute2x128_si256(lo, hi, 0x20))));
        _mm256_storeu_si256(p + 1, _mm256_add_epi32(_mm256_loadu_si256(p + 1), _mm256_add_epi32(
                                       cv, _mm256_permute2x128_si256(lo, hi, 0x31))));
    }
    for (; i < n; ++i)
        acc[i] = (int32_t)((uint32_t)acc[i] + c + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] +
                           w3 * x3[i]);
}
#endif

/* Up to four pending (x, w) terms of one accumulator row with their valid ranges [lo, hi)
 * (W grid positions; x[m] is the input of position m).  Flushed in order: where all four are
 * valid in one pass (axpy4), elsewhere one by one -- every position gets its terms in the
 * order they were added, so the result is that of one axpy per term. */
typedef struct {
    const void *x[4];
    float wf[4];
    int32_t wi[4];
    int64_t lo[4], hi[4];
    int64_t L, H;  /* the range common to all terms, kept as they are added (reading lo[] and
                    * hi[] back as vectors right after their scalar stores stalls) */
    int n;
} convt_direct_terms;

/* Term k of T over W positions [lo, hi) (nothing when empty). */
static CONVT_ALWAYS_INLINE void
convt_direct_term(const int q8, const convt_direct_terms *T, int k, int64_t lo, int64_t hi,
                  char *acc, int64_t m0, int32_t zx, convt_f32_axpy_fn f32_axpy,
                  convt_s32_axpy_fn s32_axpy)
{
    if (lo >= hi) return;
    if (q8)
        s32_axpy((int32_t *)acc + (lo - m0), (const uint8_t *)T->x[k] + lo, zx, T->wi[k],
                 hi - lo);
    else
        f32_axpy((float *)acc + (lo - m0), (const float *)T->x[k] + lo, T->wf[k], hi - lo);
}

static CONVT_ALWAYS_INLINE void
convt_direct_flush(const int q8, convt_direct_terms *T, char *acc, int64_t m0, int32_t zx,
                   convt_f32_axpy_fn f32_axpy, convt_s32_axpy_fn s32_axpy,
                   convt_f32_axpy4_fn f32_axpy4, convt_s32_axpy4_fn s32_axpy4)
{
    const int64_t L = T->L, H = T->H;
    const int four = T->n == 4 && L < H;
    /* one by one: before the common range, or everything when there is none */
    for (int k = 0; k < T->n; ++k)
        convt_direct_term(q8, T, k, T->lo[k], four && T->hi[k] > L ? L : T->hi[k], acc, m0, zx,
                          f32_axpy, s32_axpy);
    if (four) {
        if (q8) {
            const uint8_t *xs[4];
            for (int k = 0; k < 4; ++k) xs[k] = (const uint8_t *)T->x[k] + L;
            s32_axpy4((int32_t *)acc + (L - m0), xs, zx, T->wi, H - L);
        } else {
            const float *xs[4];
            for (int k = 0; k < 4; ++k) xs[k] = (const float *)T->x[k] + L;
            f32_axpy4((float *)acc + (L - m0), xs, T->wf, H - L);
        }
        for (int k = 0; k < 4; ++k)  /* after the common range */
            convt_direct_term(q8, T, k, H, T->hi[k], acc, m0, zx, f32_axpy, s32_axpy);
    }
    T->n = 0;
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
                       convt_f32_axpy4_fn f32_axpy4, convt_s32_axpy4_fn s32_axpy4,
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
            convt_direct_terms T;
            T.n = 0;
            memset(a, 0, (mend - m0) * 4);  /* 0.0f and 0 */
            for (int64_t t = 0; t < P->ntaps; ++t) {
                const int64_t *dl = P->delta + 3 * t;
                const int64_t id = md * isd + dl[0], ih = mh * ish + dl[1], wlim = P->wlim[t];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) continue;
                /* m with 0 <= m + dl[2] < wlim */
                const int64_t lo = m0 > -dl[2] ? m0 : -dl[2];
                const int64_t hi = mend < wlim - dl[2] ? mend : wlim - dl[2];
                if (lo >= hi) continue;
                /* input of W position m of this tap: x[xr + m] */
                const int64_t xr = xoff + (id * IH + ih) * IW + P->xoff[t] + dl[2];
                for (int64_t ci = 0; ci < cig; ++ci) {
                    const int64_t wi = woff + ci * cog * ksize + P->kidx[t];
                    const int64_t xi = xr + ci * G->in_size;
                    const int k = T.n++;
                    if (q8) {
                        T.x[k] = (const uint8_t *)x + xi;
                        T.wi[k] = ((const int16_t *)w)[wi];
                    } else {
                        T.x[k] = (const float *)x + xi;
                        T.wf[k] = ((const float *)w)[wi];
                    }
                    T.lo[k] = lo;
                    T.hi[k] = hi;
                    T.L = k == 0 || lo > T.L ? lo : T.L;
                    T.H = k == 0 || hi < T.H ? hi : T.H;
                    if (T.n == 4)
                        convt_direct_flush(q8, &T, a, m0, E->zx, f32_axpy, s32_axpy, f32_axpy4,
                                           s32_axpy4);
                }
            }
            if (T.n)
                convt_direct_flush(q8, &T, a, m0, E->zx, f32_axpy, s32_axpy, f32_axpy4,
                                   s32_axpy4);
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
        } else if (sw == 1) {  /* forward convolutions, stride-1 transposed ones */
            const float *CONVT_RESTRICT a = (const float *)acc;
            float *CONVT_RESTRICT of = (float *)orow + m0;
            for (int64_t m = 0; m < m1 - m0; ++m) of[m] = a[m] + b;
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
