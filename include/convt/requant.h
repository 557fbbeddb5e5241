/* Requantization of an exact int32 accumulator to uint8, bit-compatible with PyTorch's two
 * engines (shared/QUANT_SPEC.md; the per-channel constants are computed in Python,
 * convt/quantized/_requant.py, with the same float32 roundings):
 *
 *   fbgemm:  y = clamp(rint(f32(f32(f32(acc) + fbias[o]) * mult[o])) + zy, 0, 255)
 *   qnnpack: y = clamp(rint(f32(f32(acc + ibias[o]) * mult[o])) + zy, 0, 255)
 *
 * rint rounds half to even (the default rounding mode).  Every step is a separate float32
 * operation: -std=c11 keeps GCC from contracting them into FMAs, and no a*b+c shape occurs.
 */
#ifndef CONVT_REQUANT_H
#define CONVT_REQUANT_H

#include <math.h>
#include <stdint.h>

enum { CONVT_REQUANT_FBGEMM = 0, CONVT_REQUANT_QNNPACK = 1 };

typedef struct {
    int mode;
    int32_t zy;
    const float *mult;     /* fbgemm: M[o] = f32(a / sy); qnnpack: R[o] */
    const float *fbias;    /* fbgemm: f32(bias[o] * rcp[o]), 0 without bias */
    const int32_t *ibias;  /* qnnpack: quantized bias, 0 without bias */
} convt_requant;

static inline uint8_t convt_requant_one(const convt_requant *q, int64_t o, int32_t acc)
{
    float v;
    if (q->mode == CONVT_REQUANT_FBGEMM) {
        const float sum = (float)acc + q->fbias[o];
        v = sum * q->mult[o];
    } else {
        const int32_t a = (int32_t)((uint32_t)acc + (uint32_t)q->ibias[o]);
        v = (float)a * q->mult[o];
    }
    float t = nearbyintf(v) + (float)q->zy;
    if (!(t >= 0.0f)) t = 0.0f;  /* also NaN */
    if (t > 255.0f) t = 255.0f;
    return (uint8_t)t;
}

#endif
