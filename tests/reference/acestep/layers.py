"""Shared building blocks (spec section 4)."""
import math

import torch
import torch.nn.functional as F


def rmsnorm(x, weight, eps):
    """y = w * x / sqrt(mean(x^2) + eps) over the last dim (fp32)."""
    x32 = x.to(torch.float32)
    var = x32.pow(2).mean(dim=-1, keepdim=True)
    y = x32 * torch.rsqrt(var + eps)
    return weight * y.to(x.dtype)


def linear(x, weight, bias=None):
    return F.linear(x, weight, bias)


def silu(x):
    return x * torch.sigmoid(x)


def rope_tables(length, head_dim, theta):
    """cos/sin tables [length, head_dim] for rotate-half RoPE (spec 4.2)."""
    half = head_dim // 2
    idx = torch.arange(0, half, dtype=torch.float32)
    inv_freq = 1.0 / (theta ** (2.0 * idx / head_dim))
    pos = torch.arange(length, dtype=torch.float32)
    ang = pos[:, None] * inv_freq[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """x [B, heads, L, hd]; pairs (i, i+hd/2)."""
    half = x.shape[-1] // 2
    x1 = x[..., :half]
    x2 = x[..., half:]
    rot = torch.cat([-x2, x1], dim=-1)
    return x * cos + rot * sin


def build_mask(lq, lk, causal=False, window=None, key_padding=None):
    """Boolean 'allowed' mask broadcastable to [B, 1, lq, lk], or None."""
    allowed = None
    i = torch.arange(lq)[:, None]
    j = torch.arange(lk)[None, :]
    if causal:
        allowed = j <= i
    if window is not None:
        w = (i - j).abs() <= window
        allowed = w if allowed is None else (allowed & w)
    if allowed is not None:
        allowed = allowed[None, None]
    if key_padding is not None:
        kp = key_padding.to(torch.bool)[:, None, None, :]
        allowed = kp if allowed is None else (allowed & kp)
    return allowed


def attention(xq, xkv, w, prefix, heads, kv_heads, head_dim, eps,
              rope=None, mask=None):
    """GQA attention with per-head q/k RMSNorm before RoPE (spec 4.3).

    xq [B, Lq, H], xkv [B, Lk, H]; rope = (cos, sin) tables of length >=
    max(Lq, Lk) or None; mask = boolean allowed mask or None.
    """
    b, lq, _ = xq.shape
    lk = xkv.shape[1]
    q = linear(xq, w[prefix + "q_proj.weight"]).view(b, lq, heads, head_dim)
    k = linear(xkv, w[prefix + "k_proj.weight"]).view(b, lk, kv_heads, head_dim)
    v = linear(xkv, w[prefix + "v_proj.weight"]).view(b, lk, kv_heads, head_dim)
    q = rmsnorm(q, w[prefix + "q_norm.weight"], eps).transpose(1, 2)
    k = rmsnorm(k, w[prefix + "k_norm.weight"], eps).transpose(1, 2)
    v = v.transpose(1, 2)
    if rope is not None:
        cos, sin = rope
        q = apply_rope(q, cos[:lq], sin[:lq])
        k = apply_rope(k, cos[:lk], sin[:lk])
    group = heads // kv_heads
    if group > 1:
        # query head h uses kv head h // group
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(head_dim))
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    p = torch.softmax(scores, dim=-1)
    o = torch.matmul(p, v)  # [B, heads, Lq, hd]
    o = o.transpose(1, 2).reshape(b, lq, heads * head_dim)
    return linear(o, w[prefix + "o_proj.weight"])


def mlp(x, w, prefix):
    g = linear(x, w[prefix + "gate_proj.weight"])
    u = linear(x, w[prefix + "up_proj.weight"])
    return linear(silu(g) * u, w[prefix + "down_proj.weight"])


def encoder_layer(x, w, prefix, heads, kv_heads, head_dim, eps, rope, mask):
    """Pre-norm Qwen3 block (spec 4.6); mask decides causal/bidirectional."""
    h = rmsnorm(x, w[prefix + "input_layernorm.weight"], eps)
    x = x + attention(h, h, w, prefix + "self_attn.", heads, kv_heads,
                      head_dim, eps, rope=rope, mask=mask)
    h = rmsnorm(x, w[prefix + "post_attention_layernorm.weight"], eps)
    x = x + mlp(h, w, prefix + "mlp.")
    return x


def count_layers(w, prefix):
    n = 0
    while (prefix + f"{n}.input_layernorm.weight") in w:
        n += 1
    return n


def encoder_stack(x, w, prefix, cfg, key_padding=None):
    """Bidirectional encoder stack of the DiT checkpoint: layers + final norm.

    Layer j uses cfg.layer_types[j] (even = sliding, odd = full).
    """
    n = count_layers(w, prefix + "layers.")
    length = x.shape[1]
    rope = rope_tables(length, cfg.head_dim, cfg.rope_theta)
    for j in range(n):
        mask = build_mask(length, length, window=cfg.window_for(j),
                          key_padding=key_padding)
        x = encoder_layer(x, w, f"{prefix}layers.{j}.", cfg.heads, cfg.kv_heads,
                          cfg.head_dim, cfg.eps, rope, mask)
    return rmsnorm(x, w[prefix + "norm.weight"], cfg.eps)
