"""Independent float64 references, written from the definition (DESIGN.md section 1).

    out[n, g*Cog + co, o] = bias[g*Cog + co]
        + sum_{ci, i, k : o = i*stride - padding + k*dilation}
              x[n, g*Cig + ci, i] * w[g*Cig + ci, co, k]

Loops over groups and kernel taps; numpy slicing over channels and positions.  Nothing here
shares code with convt.
"""

from __future__ import annotations

import itertools

import numpy as np


def out_size(i, k, s, p, d, op):
    return (i - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose_ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                       dilation=1):
    """Batched N-d transposed convolution in float64; int params broadcast to every dim."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = x.ndim - 2
    tup = lambda v: (v,) * nd if np.isscalar(v) else tuple(v)  # noqa: E731
    s, p, op, d = tup(stride), tup(padding), tup(output_padding), tup(dilation)
    N, Cin = x.shape[:2]
    isp = x.shape[2:]
    ks = w.shape[2:]
    Cig, Cog = Cin // groups, w.shape[1]
    Cout = Cog * groups
    osp = tuple(out_size(isp[a], ks[a], s[a], p[a], d[a], op[a]) for a in range(nd))
    # Accumulate into an uncropped buffer covering every tap, then crop the padding.
    full = tuple((isp[a] - 1) * s[a] + d[a] * (ks[a] - 1) + 1 + op[a] for a in range(nd))
    buf = np.zeros((N, Cout) + tuple(max(f, p[a] + osp[a]) for a, f in enumerate(full)))
    for g in range(groups):
        xg = x[:, g * Cig:(g + 1) * Cig]
        wg = w[g * Cig:(g + 1) * Cig]
        for k in itertools.product(*(range(kk) for kk in ks)):
            # contribution[n, co, i...] = sum_ci x[n, ci, i...] * w[ci, co, k]
            contrib = np.einsum("nc...,cd->nd...", xg, wg[(slice(None), slice(None)) + k])
            sl = tuple(slice(k[a] * d[a], k[a] * d[a] + (isp[a] - 1) * s[a] + 1, s[a])
                       for a in range(nd))
            buf[(slice(None), slice(g * Cog, (g + 1) * Cog)) + sl] += contrib
    out = buf[(slice(None), slice(None)) + tuple(slice(p[a], p[a] + osp[a]) for a in range(nd))]
    out = np.array(out)
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape((1, Cout) + (1,) * nd)
    return out


def conv_ref(y, w, stride=1, padding=0, groups=1, dilation=1, in_spatial=None):
    """The forward convolution that conv_transpose is the adjoint of (no bias):

        z[n, g*Cig + ci, i] = sum_{co, k} y[n, g*Cog + co, i*stride - padding + k*dilation]
                                          * w[g*Cig + ci, co, k]     (in-range positions only)
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = y.ndim - 2
    tup = lambda v: (v,) * nd if np.isscalar(v) else tuple(v)  # noqa: E731
    s, p, d = tup(stride), tup(padding), tup(dilation)
    N, Cout = y.shape[:2]
    Cin, Cog = w.shape[:2]
    Cig = Cin // groups
    ks = w.shape[2:]
    z = np.zeros((N, Cin) + tuple(in_spatial))
    for g in range(groups):
        for k in itertools.product(*(range(kk) for kk in ks)):
            for i in itertools.product(*(range(n) for n in in_spatial)):
                o = tuple(i[a] * s[a] - p[a] + k[a] * d[a] for a in range(nd))
                if all(0 <= o[a] < y.shape[2 + a] for a in range(nd)):
                    yv = y[(slice(None), slice(g * Cog, (g + 1) * Cog)) + o]  # (N, Cog)
                    wk = w[(slice(g * Cig, (g + 1) * Cig), slice(None)) + k]  # (Cig, Cog)
                    z[(slice(None), slice(g * Cig, (g + 1) * Cig)) + i] += yv @ wk.T
    return z


def conv_transpose_naive(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    """The definition with one scalar loop per index: slow, only for checking the reference
    itself on tiny problems."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd = x.ndim - 2
    tup = lambda v: (v,) * nd if np.isscalar(v) else tuple(v)  # noqa: E731
    s, p, op, d = tup(stride), tup(padding), tup(output_padding), tup(dilation)
    N, Cin = x.shape[:2]
    Cig, Cog = Cin // groups, w.shape[1]
    ks, isp = w.shape[2:], x.shape[2:]
    osp = tuple(out_size(isp[a], ks[a], s[a], p[a], d[a], op[a]) for a in range(nd))
    out = np.zeros((N, Cog * groups) + osp)
    for n in range(N):
        for g in range(groups):
            for ci in range(Cig):
                for co in range(Cog):
                    for i in itertools.product(*(range(v) for v in isp)):
                        for k in itertools.product(*(range(v) for v in ks)):
                            o = tuple(i[a] * s[a] - p[a] + k[a] * d[a] for a in range(nd))
                            if all(0 <= o[a] < osp[a] for a in range(nd)):
                                out[(n, g * Cog + co) + o] += (x[(n, g * Cig + ci) + i]
                                                               * w[(g * Cig + ci, co) + k])
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape((1, -1) + (1,) * nd)
    return out


def error_bound(x, w, b=None, **params):
    """Per-element float32 error bound: a few ulps of sum |x|*|w| (+ |b|)."""
    mag = conv_transpose_ref(np.abs(x), np.abs(w), None if b is None else np.abs(b), **params)
    return 1e-5 * mag + 1e-6
