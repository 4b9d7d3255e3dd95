"""The 5 Hz language model: a Qwen3 causal LM with an explicit KV cache
(spec 14.1, 15.4, 3.4; building blocks 4.1-4.5).

Pre-norm layers: x += attn(rmsnorm(x)); x += mlp(rmsnorm(x)). Attention is
GQA and causal (no sliding window), with per-head q/k RMSNorm before
rotate-half RoPE at the token's absolute position; the final RMSNorm feeds
the tied head (logits = hidden @ embed_tokens^T).
"""
import json
import math
import os

import torch

from . import layers as L
from . import safetensors_io


class LmConfig:
    def __init__(self, d):
        self.raw = d
        self.hidden = d["hidden_size"]
        self.intermediate = d["intermediate_size"]
        self.num_layers = d["num_hidden_layers"]
        self.heads = d["num_attention_heads"]
        self.kv_heads = d["num_key_value_heads"]
        self.head_dim = d.get("head_dim", self.hidden // self.heads)
        self.eps = d.get("rms_norm_eps", 1e-6)
        self.rope_theta = d.get("rope_theta", 1000000.0)
        self.vocab = d["vocab_size"]
        self.tied = d.get("tie_word_embeddings", True)
        self.max_positions = d.get("max_position_embeddings", 40960)


def load_lm(folder):
    """Reads config.json and model.safetensors; tensor names are returned
    without the "model." prefix (a checkpoint without it is accepted too)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = LmConfig(json.load(f))
    raw = safetensors_io.load(os.path.join(folder, "model.safetensors"))
    w = {}
    for k, v in raw.items():
        name = k[len("model."):] if k.startswith("model.") else k
        assert name not in w, f"{folder}: {name} stored twice"
        w[name] = v.to(torch.float32)
    emb = w["embed_tokens.weight"]
    assert list(emb.shape) == [cfg.vocab, cfg.hidden], emb.shape
    # the head is tied (spec 15.4): a stored lm_head must equal the embedding
    head = w.pop("lm_head.weight", None)
    assert head is None or torch.equal(head, emb), "lm_head.weight differs from embed_tokens"
    q_rows, kv_rows = cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    for i in range(cfg.num_layers):
        p = f"layers.{i}."
        assert list(w[p + "self_attn.q_proj.weight"].shape) == [q_rows, cfg.hidden]
        assert list(w[p + "self_attn.k_proj.weight"].shape) == [kv_rows, cfg.hidden]
        assert list(w[p + "mlp.gate_proj.weight"].shape) == [cfg.intermediate, cfg.hidden]
    return cfg, w


class KvCache:
    """Per layer: keys (after k_norm and RoPE) and values, [B, kv_heads, n, hd]."""

    def __init__(self, num_layers):
        self.k = [None] * num_layers
        self.v = [None] * num_layers
        self.length = 0

    def append(self, layer, k, v):
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v
        else:
            self.k[layer] = torch.cat([self.k[layer], k], dim=2)
            self.v[layer] = torch.cat([self.v[layer], v], dim=2)
        return self.k[layer], self.v[layer]


def _attention(cfg, w, prefix, x, cache, layer, cos, sin, start):
    b, s, _ = x.shape
    hd = cfg.head_dim
    q = L.linear(x, w[prefix + "q_proj.weight"]).view(b, s, cfg.heads, hd)
    k = L.linear(x, w[prefix + "k_proj.weight"]).view(b, s, cfg.kv_heads, hd)
    v = L.linear(x, w[prefix + "v_proj.weight"]).view(b, s, cfg.kv_heads, hd)
    q = L.rmsnorm(q, w[prefix + "q_norm.weight"], cfg.eps).transpose(1, 2)
    k = L.rmsnorm(k, w[prefix + "k_norm.weight"], cfg.eps).transpose(1, 2)
    v = v.transpose(1, 2)
    q = L.apply_rope(q, cos, sin)
    k = L.apply_rope(k, cos, sin)
    k_all, v_all = cache.append(layer, k, v)
    n = k_all.shape[2]
    group = cfg.heads // cfg.kv_heads
    k_all = k_all.repeat_interleave(group, dim=1)  # query head h -> kv head h // group
    v_all = v_all.repeat_interleave(group, dim=1)
    scores = torch.matmul(q, k_all.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    # causal: the query at absolute position start + i sees keys 0..start + i
    qpos = torch.arange(start, start + s)[:, None]
    kpos = torch.arange(n)[None, :]
    allowed = (kpos <= qpos)[None, None]
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    o = torch.matmul(torch.softmax(scores, dim=-1), v_all)
    o = o.transpose(1, 2).reshape(b, s, cfg.heads * hd)
    return L.linear(o, w[prefix + "o_proj.weight"])


def forward(cfg, w, input_ids, cache, logits_positions="all", head_rows=None):
    """Runs input_ids [B, S] at positions cache.length .. cache.length + S - 1,
    appending their keys/values to the cache. Returns (hidden after the final
    norm [B, S, H], logits [B, S, V] or [B, 1, V] for logits_positions="last").
    head_rows=(begin, end): the head over those vocabulary rows only (logits
    [..., end - begin]); None: no head at all when logits_positions is None."""
    b, s = input_ids.shape
    start = cache.length
    x = w["embed_tokens.weight"][input_ids]
    cos, sin = L.rope_tables(start + s, cfg.head_dim, cfg.rope_theta)
    cos, sin = cos[start:], sin[start:]
    for i in range(cfg.num_layers):
        p = f"layers.{i}."
        h = L.rmsnorm(x, w[p + "input_layernorm.weight"], cfg.eps)
        x = x + _attention(cfg, w, p + "self_attn.", h, cache, i, cos, sin, start)
        h = L.rmsnorm(x, w[p + "post_attention_layernorm.weight"], cfg.eps)
        x = x + L.mlp(h, w, p + "mlp.")
    cache.length = start + s
    hidden = L.rmsnorm(x, w["norm.weight"], cfg.eps)
    if logits_positions is None:
        return hidden, None
    head_in = hidden[:, -1:] if logits_positions == "last" else hidden
    head = w["embed_tokens.weight"]
    if head_rows is not None:
        head = head[head_rows[0]:head_rows[1]]
    return hidden, L.linear(head_in, head)


def run(cfg, w, prompt_ids, decode_ids):
    """Prefill prompt_ids [1, S], then one decode step per id of decode_ids.
    Returns the prefill hidden [1, S, H], the last prefill logits [1, V], and
    per decode step the hidden [1, H] and logits [1, V] (stacked)."""
    cache = KvCache(cfg.num_layers)
    hidden, logits = forward(cfg, w, prompt_ids, cache, logits_positions="last")
    dh, dl = [], []
    for t in decode_ids.tolist():
        h, lg = forward(cfg, w, torch.tensor([[t]], dtype=torch.int64), cache)
        dh.append(h[0, 0])
        dl.append(lg[0, 0])
    return hidden, logits[:, 0], torch.stack(dh), torch.stack(dl)


def self_check(cfg, w, prompt_ids, decode_ids, tol=2e-6):
    """Decoding with the cache (and prefilling in two chunks) equals
    recomputing the whole prefix without a cache; max |diff| / peak <= tol."""
    full_ids = torch.cat([prompt_ids, decode_ids[None]], dim=1)
    full_h, full_l = forward(cfg, w, full_ids, KvCache(cfg.num_layers))
    s = prompt_ids.shape[1]
    hidden, last, dh, dl = run(cfg, w, prompt_ids, decode_ids)
    pairs = [("prefill hidden", hidden, full_h[:, :s]),
             ("prefill last logits", last, full_l[:, s - 1]),
             ("decode hidden", dh, full_h[0, s:]),
             ("decode logits", dl, full_l[0, s:])]
    # chunked prefill: the second chunk attends to the cached first chunk
    cache = KvCache(cfg.num_layers)
    cut = s // 2 + 1
    h1, _ = forward(cfg, w, prompt_ids[:, :cut], cache)
    h2, _ = forward(cfg, w, prompt_ids[:, cut:], cache)
    pairs.append(("chunked prefill hidden", torch.cat([h1, h2], dim=1), full_h[:, :s]))
    worst = 0.0
    for name, got, ref in pairs:
        rel = float((got - ref).abs().max() / ref.abs().max())
        assert rel <= tol, f"lm self-check: {name} differs by {rel:.3e} of the peak"
        worst = max(worst, rel)
    return worst
