"""DiT decoder forward step (spec 10)."""
import math

import torch
import torch.nn.functional as F

from . import layers as L


def timestep_sinusoid(tau, dim=256):
    """e = [cos(s*f), sin(s*f)], s = 1000*tau (float32, no bf16 rounding)."""
    half = dim // 2
    s = tau.to(torch.float32) * 1000.0
    k = torch.arange(half, dtype=torch.float32)
    f = torch.exp(-math.log(10000.0) * k / half)
    arg = s[:, None] * f[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


def timestep_embedding(w, prefix, tau, hidden):
    """Returns temb [B, H] and proj [B, 6, H]."""
    dim = w[prefix + "linear_1.weight"].shape[1]
    e = timestep_sinusoid(tau, dim)
    h = L.linear(e, w[prefix + "linear_1.weight"], w[prefix + "linear_1.bias"])
    temb = L.linear(L.silu(h), w[prefix + "linear_2.weight"], w[prefix + "linear_2.bias"])
    proj = L.linear(L.silu(temb), w[prefix + "time_proj.weight"], w[prefix + "time_proj.bias"])
    return temb, proj.view(tau.shape[0], 6, hidden)


def dit_forward(cfg, w, x_t, context, enc, t, r=None):
    """x_t [B,T,64], context [B,T,128], enc [B,L,H] (before the condition
    embedder), t/r [B] -> velocity [B,T,64]."""
    p = "decoder."
    hidden = cfg.hidden
    b, frames, _ = x_t.shape
    t = t.to(torch.float32)
    if r is None:
        r = t
    temb_t, proj_t = timestep_embedding(w, p + "time_embed.", t, hidden)
    temb_r, proj_r = timestep_embedding(w, p + "time_embed_r.", t - r.to(torch.float32), hidden)
    temb = temb_t + temb_r
    tproj = proj_t + proj_r

    # input patching: channels [src(64) | mask(64) | x_t(64)]
    h = torch.cat([context, x_t], dim=-1)
    patch = cfg.patch_size
    pad = (-frames) % patch
    if pad:
        h = torch.cat([h, h.new_zeros(b, pad, h.shape[-1])], dim=1)
    x = F.conv1d(h.transpose(1, 2), w[p + "proj_in.1.weight"], w[p + "proj_in.1.bias"],
                 stride=patch)
    x = x.transpose(1, 2)  # [B, S, H]
    seq = x.shape[1]

    enc2 = L.linear(enc, w[p + "condition_embedder.weight"], w[p + "condition_embedder.bias"])
    rope = L.rope_tables(seq, cfg.head_dim, cfg.rope_theta)

    n_layers = 0
    while f"{p}layers.{n_layers}.self_attn_norm.weight" in w:
        n_layers += 1
    assert n_layers == cfg.num_layers, (n_layers, cfg.num_layers)

    for i in range(n_layers):
        lp = f"{p}layers.{i}."
        m = w[lp + "scale_shift_table"] + tproj  # [B, 6, H]
        shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff = [
            m[:, k:k + 1, :] for k in range(6)]
        # self-attention (geometric mask only, no padding mask)
        n = L.rmsnorm(x, w[lp + "self_attn_norm.weight"], cfg.eps) * (1 + scale_sa) + shift_sa
        window = cfg.window_for(i)
        mask = L.build_mask(seq, seq, window=window) if window is not None else None
        a = L.attention(n, n, w, lp + "self_attn.", cfg.heads, cfg.kv_heads,
                        cfg.head_dim, cfg.eps, rope=rope, mask=mask)
        x = x + gate_sa * a
        # cross-attention: no gate, no modulation, no RoPE, no mask
        n = L.rmsnorm(x, w[lp + "cross_attn_norm.weight"], cfg.eps)
        x = x + L.attention(n, enc2, w, lp + "cross_attn.", cfg.heads, cfg.kv_heads,
                            cfg.head_dim, cfg.eps, rope=None, mask=None)
        # MLP
        n = L.rmsnorm(x, w[lp + "mlp_norm.weight"], cfg.eps) * (1 + scale_ff) + shift_ff
        x = x + gate_ff * L.mlp(n, w, lp + "mlp.")

    sst = w[p + "scale_shift_table"] + temb[:, None, :]  # [B, 2, H]
    shift, scale = sst[:, 0:1, :], sst[:, 1:2, :]
    y = L.rmsnorm(x, w[p + "norm_out.weight"], cfg.eps) * (1 + scale) + shift
    out = F.conv_transpose1d(y.transpose(1, 2), w[p + "proj_out.1.weight"],
                             w[p + "proj_out.1.bias"], stride=patch)
    out = out.transpose(1, 2)  # [B, patch*S, 64]
    return out[:, :frames, :].contiguous()
