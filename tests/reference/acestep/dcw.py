"""DCW: differential correction in the wavelet domain (spec 18.4).

The correction is computed the way the method is defined: a one-level Haar
DWT along the time axis of both the stepped latent and the predicted clean
sample, a per-band push of the first away from the second, and the inverse
DWT. The spec's closed form is implemented separately (dcw_closed_form) only
to check the filter-bank version against it.
"""
import math

import torch
import torch.nn.functional as F

MODES = ("low", "high", "double", "pix")

_R = 1.0 / math.sqrt(2.0)
# Haar analysis filters as taps over one pair of frames (x[2k], x[2k+1]).
_LO = (_R, _R)
_HI = (_R, -_R)


def _bank(dtype):
    """Analysis filter bank as a conv1d weight [2 bands, 1, 2 taps]."""
    return torch.tensor([[list(_LO)], [list(_HI)]], dtype=dtype)


def haar_dwt(x):
    """One-level Haar DWT along dim 1 of [B, T, C] with zero padding.

    An odd T gets one zero frame on the right. Returns (low, high), each
    [B, ceil(T/2), C], and T (for the inverse).
    """
    b, t, c = x.shape
    xs = x.transpose(1, 2).reshape(b * c, 1, t)  # one signal per (b, channel)
    if t % 2:
        xs = F.pad(xs, (0, 1))  # zero padding
    bands = F.conv1d(xs, _bank(x.dtype), stride=2)  # [B*C, 2, ceil(T/2)]
    half = bands.shape[-1]
    bands = bands.reshape(b, c, 2, half).permute(2, 0, 3, 1)  # [2, B, half, C]
    return bands[0], bands[1], t


def haar_idwt(low, high, length):
    """Inverse of haar_dwt: synthesis filter bank (upsample + filter), trim."""
    b, half, c = low.shape
    bands = torch.stack([low, high], dim=0).permute(1, 3, 0, 2)  # [B, C, 2, half]
    bands = bands.reshape(b * c, 2, half)
    # Orthogonal bank: synthesis = transpose of analysis.
    y = F.conv_transpose1d(bands, _bank(low.dtype), stride=2)  # [B*C, 1, 2*half]
    y = y[:, 0, :length]
    return y.reshape(b, c, length).transpose(1, 2).contiguous()


def strengths(mode, t, scaler, high_scaler):
    """(s_low, s_high) for a wavelet mode at the step's current timestep t."""
    if mode == "low":
        return t * scaler, 0.0
    if mode == "high":
        return 0.0, (1.0 - t) * scaler
    if mode == "double":
        return t * scaler, (1.0 - t) * high_scaler
    raise ValueError(mode)


def dcw_apply(x_next, denoised, t, mode="double", scaler=0.05, high_scaler=0.02):
    """Returns x_next corrected (filter-bank DWT version)."""
    if mode not in MODES:
        raise ValueError(f"unknown DCW mode {mode!r}")
    if mode == "pix":
        return x_next + scaler * (x_next - denoised)
    s_low, s_high = strengths(mode, t, scaler, high_scaler)
    xl, xh, length = haar_dwt(x_next)
    yl, yh, _ = haar_dwt(denoised)
    xl = xl + s_low * (xl - yl)
    xh = xh + s_high * (xh - yh)
    return haar_idwt(xl, xh, length)


def dcw_closed_form(x_next, denoised, t, mode="double", scaler=0.05, high_scaler=0.02):
    """The spec's closed form, per frame pair (2k, 2k+1), d[T] = 0 if T odd."""
    d = x_next - denoised
    if mode == "pix":
        return x_next + scaler * d
    s_low, s_high = strengths(mode, t, scaler, high_scaler)
    length = d.shape[1]
    out = x_next.clone()
    for k in range(0, length, 2):
        a = d[:, k]
        bb = d[:, k + 1] if k + 1 < length else torch.zeros_like(a)
        m = (a + bb) / 2
        out[:, k] += s_low * m + s_high * (a - m)
        if k + 1 < length:
            out[:, k + 1] += s_low * m + s_high * (bb - m)
    return out


def self_test():
    """DWT round trip and closed-form agreement, even and odd T, all modes."""
    g = torch.Generator()
    g.manual_seed(7)
    for length in (1, 2, 7, 60, 75):
        x = torch.randn(2, length, 5, generator=g, dtype=torch.float64)
        y = torch.randn(2, length, 5, generator=g, dtype=torch.float64)
        lo, hi, n = haar_dwt(x)
        assert lo.shape == (2, (length + 1) // 2, 5)
        assert torch.allclose(haar_idwt(lo, hi, n), x, atol=1e-12), "Haar round trip"
        # energy preserved (orthogonal) for even T
        if length % 2 == 0:
            assert abs(float((lo ** 2).sum() + (hi ** 2).sum() - (x ** 2).sum())) < 1e-9
        # the first low/high coefficient is the pair's sum/difference over sqrt 2
        if length >= 2:
            assert torch.allclose(lo[:, 0], (x[:, 0] + x[:, 1]) * _R)
            assert torch.allclose(hi[:, 0], (x[:, 0] - x[:, 1]) * _R)
        for mode in MODES:
            for t in (1.0, 0.75, 0.3):
                a = dcw_apply(x, y, t, mode, 0.05, 0.02)
                b = dcw_closed_form(x, y, t, mode, 0.05, 0.02)
                assert torch.allclose(a, b, atol=1e-12, rtol=0), (length, mode, t)
                assert not torch.equal(a, x) or t == 1.0 and mode == "high"
    # float32 too (the goldens' precision)
    x = torch.randn(1, 61, 64, generator=g)
    y = torch.randn(1, 61, 64, generator=g)
    for mode in MODES:
        a = dcw_apply(x, y, 0.9, mode)
        b = dcw_closed_form(x, y, 0.9, mode)
        assert (a - b).abs().max() <= 1e-6 * max(1.0, float(x.abs().max())), mode


if __name__ == "__main__":
    self_test()
    print("dcw self-test passed")
