"""Independent references for FORWARD convolution, written from the definition:

    out[n, g*Cog + co, o] = bias[g*Cog + co]
        + sum_{ci, k} xpad[n, g*Cig + ci, o*stride + k*dilation] * w[g*Cog + co, ci, k]

where ``xpad`` is the input padded by (left, right) per spatial dimension -- with zeros, or
with the values of the input itself for the 'reflect' / 'replicate' / 'circular' modes -- and
``w`` is ``(C_out, C_in/groups, *kernel)`` (PyTorch's forward layout).

float64 for the float operator, exact int64 for the quantized accumulator.  Loops over groups
and kernel taps with numpy slicing over batch, channels and positions.  Nothing here shares
code with convt; the padding modes are index maps written from their definitions.
"""

from __future__ import annotations

import itertools

import numpy as np

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tup(v, nd):
    if np.isscalar(v):
        return (int(v),) * nd
    v = tuple(v)
    if len(v) == 1 and nd > 1:
        v = v * nd
    assert len(v) == nd, (v, nd)
    return v


def resolve_padding(padding, kernel, dilation):
    """Per-dimension (left, right) pairs from an int, a tuple of ints, a tuple of
    (left, right) pairs, 'valid' or 'same' (total d*(k-1), left = total//2, the extra on the
    right, as PyTorch)."""
    nd = len(kernel)
    d = _tup(dilation, nd)
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(nd))
        assert padding == "same", padding
        pairs = []
        for a in range(nd):
            total = d[a] * (kernel[a] - 1)
            pairs.append((total // 2, total - total // 2))
        return tuple(pairs)
    if np.isscalar(padding):
        return tuple((int(padding), int(padding)) for _ in range(nd))
    padding = tuple(padding)
    if len(padding) == 1 and nd > 1:
        padding = padding * nd
    assert len(padding) == nd, (padding, nd)
    pairs = []
    for p in padding:
        if np.isscalar(p):
            pairs.append((int(p), int(p)))
        else:
            lo, hi = p
            pairs.append((int(lo), int(hi)))
    return tuple(pairs)


def conv_out_size(i, k, s, pl, pr, d):
    """Output length; <= 0 when the padded input is shorter than the kernel extent."""
    return (i + pl + pr - d * (k - 1) - 1) // s + 1


def _source_index(j, n, mode):
    """For padded position j (relative to the unpadded input: j < 0 or j >= n are padding),
    the input index whose value the padding copies (None for 'zeros' padding)."""
    if 0 <= j < n:
        return j
    if mode == "zeros":
        return None
    if mode == "replicate":  # the nearest edge value
        return 0 if j < 0 else n - 1
    if mode == "circular":  # the input repeated periodically
        return j % n
    if mode == "reflect":  # mirrored about the edge element, the edge itself not repeated
        assert n >= 2, "reflect padding needs at least 2 elements"
        period = 2 * (n - 1)
        m = j % period
        return m if m < n else period - m
    raise ValueError(mode)


def pad_nd(x, pairs, mode="zeros"):
    """Pad the trailing ``len(pairs)`` dimensions of ``x`` by (left, right) with ``mode``.

    'zeros' pads with 0 (the caller subtracts the zero point first for quantized input);
    the other modes copy input values by the index maps of :func:`_source_index`.
    """
    x = np.asarray(x)
    nd = len(pairs)
    lead = x.ndim - nd
    for a, (lo, hi) in enumerate(pairs):
        axis = lead + a
        n = x.shape[axis]
        idx = [_source_index(j, n, mode) for j in range(-lo, n + hi)]
        if mode == "zeros":
            shape = list(x.shape)
            shape[axis] = n + lo + hi
            y = np.zeros(shape, x.dtype)
            sl = [slice(None)] * x.ndim
            sl[axis] = slice(lo, lo + n)
            y[tuple(sl)] = x
            x = y
        else:
            x = np.take(x, np.array(idx, dtype=np.int64), axis=axis)
    return x


def _geometry(x_shape, w_shape, stride, padding, dilation):
    nd = len(w_shape) - 2
    ks = tuple(w_shape[2:])
    s, d = _tup(stride, nd), _tup(dilation, nd)
    pairs = resolve_padding(padding, ks, d)
    isp = tuple(x_shape[2:])
    osp = tuple(conv_out_size(isp[a], ks[a], s[a], pairs[a][0], pairs[a][1], d[a])
                for a in range(nd))
    return nd, ks, s, d, pairs, osp


def _correlate(xp, w, s, d, ks, osp, groups, dtype):
    """Sum over taps of the padded input ``xp`` (N, C_in, *padded) against w."""
    nd = len(ks)
    N, Cin = xp.shape[:2]
    Cout, Cig = w.shape[:2]
    Cog = Cout // groups
    assert Cig * groups == Cin, (Cig, groups, Cin)
    out = np.zeros((N, Cout) + osp, dtype)
    for g in range(groups):
        xg = xp[:, g * Cig:(g + 1) * Cig]
        wg = w[g * Cog:(g + 1) * Cog]
        for k in itertools.product(*(range(kk) for kk in ks)):
            sl = tuple(slice(k[a] * d[a], k[a] * d[a] + (osp[a] - 1) * s[a] + 1, s[a])
                       for a in range(nd))
            patch = xg[(slice(None), slice(None)) + sl]  # (N, Cig, *osp)
            wk = wg[(slice(None), slice(None)) + k]       # (Cog, Cig)
            out[:, g * Cog:(g + 1) * Cog] += np.einsum("nc...,oc->no...", patch, wk)
    return out


def conv_forward_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1,
                     padding_mode="zeros"):
    """Batched N-d forward convolution in float64 (PyTorch's conv{n}d / nn.Conv{n}d)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd, ks, s, d, pairs, osp = _geometry(x.shape, w.shape, stride, padding, dilation)
    assert all(o >= 1 for o in osp), ("empty output", osp)
    xp = pad_nd(x, pairs, padding_mode)
    out = _correlate(xp, w, s, d, ks, osp, groups, np.float64)
    if b is not None:
        out += np.asarray(b, dtype=np.float64).reshape((1, -1) + (1,) * nd)
    return out


def conv_forward_naive(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """One scalar loop per index, zero padding only: for checking conv_forward_ref itself on
    tiny problems."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    nd, ks, s, d, pairs, osp = _geometry(x.shape, w.shape, stride, padding, dilation)
    N = x.shape[0]
    Cout, Cig = w.shape[:2]
    Cog = Cout // groups
    isp = x.shape[2:]
    out = np.zeros((N, Cout) + osp)
    for n in range(N):
        for co in range(Cout):
            g = co // Cog
            for o in itertools.product(*(range(v) for v in osp)):
                acc = 0.0 if b is None else float(b[co])
                for ci in range(Cig):
                    for k in itertools.product(*(range(v) for v in ks)):
                        i = tuple(o[a] * s[a] - pairs[a][0] + k[a] * d[a] for a in range(nd))
                        if all(0 <= i[a] < isp[a] for a in range(nd)):
                            acc += x[(n, g * Cig + ci) + i] * w[(co, ci) + k]
                        else:  # a zero of the padding (0 * inf is NaN)
                            acc += 0.0 * w[(co, ci) + k]
                out[(n, co) + o] = acc
    return out


def error_bound_forward(x, w, b=None, **params):
    """Per-element float32 error bound: a few ulps of sum |x|*|w| (+ |b|) over the taps that
    reach each output (the same convolution of the absolute values)."""
    mag = conv_forward_ref(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(w, np.float64)),
                           None if b is None else np.abs(np.asarray(b, np.float64)), **params)
    return 1e-5 * mag + 1e-6


def accumulate_forward(xq, zx, wq, zw, stride=1, padding=0, dilation=1, groups=1,
                       padding_mode="zeros"):
    """Exact int64 accumulator sum (x - zx) * (w - zw[co]) for batched N-d uint8 input and
    int8 weight (C_out, C_in/groups, *k); ``zw`` per output channel (C_out,) or a scalar.

    Zero padding contributes nothing (the padded value is the zero point); the other modes
    copy input values (PyTorch pads the quantized input with F.pad, then convolves)."""
    x = np.asarray(xq).astype(np.int64) - int(zx)
    wq = np.asarray(wq)
    nd, ks, s, d, pairs, osp = _geometry(x.shape, wq.shape, stride, padding, dilation)
    assert all(o >= 1 for o in osp), ("empty output", osp)
    Cout = wq.shape[0]
    zw = np.broadcast_to(np.asarray(zw, np.int64), (Cout,))
    w = wq.astype(np.int64) - zw.reshape((Cout,) + (1,) * (nd + 1))
    xp = pad_nd(x, pairs, padding_mode)
    return _correlate(xp, w, s, d, ks, osp, groups, np.int64)
