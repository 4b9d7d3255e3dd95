"""FSQ codebook decode and detokenizer (spec 8.1-8.3)."""
import torch

from . import layers as L


def fsq_strides(levels):
    strides = []
    s = 1
    for lv in levels:
        strides.append(s)
        s *= lv
    return strides, s


def fsq_code_values(codes, levels):
    """codes [N] int -> symmetric values [N, len(levels)] in [-1, 1]."""
    strides, size = fsq_strides(levels)
    codes = codes.to(torch.int64).clamp(0, size - 1)
    vals = []
    for lv, st in zip(levels, strides):
        q = (codes // st) % lv
        vals.append(q.to(torch.float32) * (2.0 / (lv - 1)) - 1.0)
    return torch.stack(vals, dim=-1)


def fsq_decode(cfg, w, codes):
    """codes [N5] -> project_out(v) [1, N5, fsq_dim] (float32, as XL needs)."""
    v = fsq_code_values(codes, cfg.fsq_levels)
    z = L.linear(v, w["tokenizer.quantizer.project_out.weight"],
                 w["tokenizer.quantizer.project_out.bias"])
    return z[None]


def detokenize(cfg, w, z):
    """z [B, N5, fsq_dim] -> hints [B, pool*N5, 64]."""
    p = "detokenizer."
    cfg = cfg.encoder()  # encoder width (XL); the same dims for 2B
    b, n5, _ = z.shape
    e = L.linear(z, w[p + "embed_tokens.weight"], w[p + "embed_tokens.bias"])
    st = w[p + "special_tokens"]  # [1, pool, H]
    pool = st.shape[1]
    x = e[:, :, None, :] + st[0][None, None, :, :]  # [B, N5, pool, H]
    x = x.reshape(b * n5, pool, e.shape[-1])
    x = L.encoder_stack(x, w, p, cfg, key_padding=None)
    y = L.linear(x, w[p + "proj_out.weight"], w[p + "proj_out.bias"])
    return y.reshape(b, n5 * pool, y.shape[-1])
