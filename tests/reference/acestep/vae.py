"""Oobleck VAE decoder, tiled decode, output post-processing (spec 13)."""
import math

import torch
import torch.nn.functional as F


def fold_weight_norm(v, g):
    """w = g * v / ||v||, norm over all dims except dim 0 (PyTorch dim=0)."""
    norm = v.reshape(v.shape[0], -1).norm(dim=1)
    shape = [v.shape[0]] + [1] * (v.dim() - 1)
    return v * (g.reshape(shape) / norm.reshape(shape))


def snake(x, alpha, beta):
    """y = x + 1/(exp(beta)+1e-9) * sin^2(exp(alpha) x); params log-scale."""
    a = torch.exp(alpha)
    inv_b = 1.0 / (torch.exp(beta) + 1e-9)
    return x + inv_b * torch.sin(a * x).pow(2)


class VaeDecoder:
    def __init__(self, cfg, w):
        self.cfg = cfg
        self.w = w
        self.cache = {}

    def _wt(self, name):
        if name not in self.cache:
            self.cache[name] = fold_weight_norm(self.w[name + ".weight_v"],
                                                self.w[name + ".weight_g"])
        return self.cache[name]

    def _conv(self, x, name, padding=0, dilation=1):
        return F.conv1d(x, self._wt(name), self.w.get(name + ".bias"),
                        padding=padding, dilation=dilation)

    def _snake(self, x, name):
        return snake(x, self.w[name + ".alpha"], self.w[name + ".beta"])

    def __call__(self, z):
        """z [B, 64, T] -> audio [B, channels, hop*T]."""
        p = "decoder."
        x = self._conv(z, p + "conv1", padding=3)
        strides = list(reversed(self.cfg.ratios))
        for i, s in enumerate(strides):
            bp = f"{p}block.{i}."
            x = self._snake(x, bp + "snake1")
            wt = self._wt(bp + "conv_t1")
            assert wt.shape[2] == 2 * s, (wt.shape, s)
            x = F.conv_transpose1d(x, wt, self.w[bp + "conv_t1.bias"], stride=s,
                                   padding=int(math.ceil(s / 2)))
            for j, d in enumerate((1, 3, 9)):
                rp = f"{bp}res_unit{j + 1}."
                y = self._snake(x, rp + "snake1")
                y = self._conv(y, rp + "conv1", padding=3 * d, dilation=d)
                y = self._snake(y, rp + "snake2")
                y = self._conv(y, rp + "conv2")
                if y.shape[-1] != x.shape[-1]:  # centre-crop (never happens)
                    trim = (x.shape[-1] - y.shape[-1]) // 2
                    x = x[..., trim:trim + y.shape[-1]]
                x = x + y
        x = self._snake(x, p + "snake1")
        x = self._conv(x, p + "conv2", padding=3)
        return x


def tiled_decode(decoder, z, chunk, overlap=64):
    """Overlap-discard tiled decode (spec 13.5); batch item by item."""
    outs = []
    for b in range(z.shape[0]):
        zb = z[b:b + 1]
        frames = zb.shape[-1]
        ov = overlap
        while chunk - 2 * ov <= 0 and ov > 0:
            ov //= 2
        if frames <= chunk:
            outs.append(decoder(zb))
            continue
        stride = chunk - 2 * ov
        n = int(math.ceil(frames / stride))
        pieces = []
        factor = None
        for i in range(n):
            core_s = i * stride
            core_e = min(core_s + stride, frames)
            win_s = max(0, core_s - ov)
            win_e = min(frames, core_e + ov)
            audio = decoder(zb[..., win_s:win_e])
            if factor is None:
                factor = audio.shape[-1] / (win_e - win_s)
            front = int(round((core_s - win_s) * factor))
            back = int(round((win_e - core_e) * factor))
            pieces.append(audio[..., front:audio.shape[-1] - back])
        outs.append(torch.cat(pieces, dim=-1))
    return torch.cat(outs, dim=0)


def postprocess(audio, target_db=-1.0):
    """Spec 13.6: clip-guard by max(peak, 1), then peak-normalise."""
    x = audio.to(torch.float32).clone()
    for b in range(x.shape[0]):
        peak = float(x[b].abs().max())
        if peak > 1.0:
            x[b] = x[b] / max(peak, 1.0)
        peak = float(x[b].abs().max())  # peak of the current audio
        if peak >= 1e-6:
            x[b] = x[b] * (10.0 ** (target_db / 20.0) / peak)
    return x
