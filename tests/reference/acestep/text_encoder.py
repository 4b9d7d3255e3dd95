"""Qwen3-Embedding text encoder (spec 5)."""
import torch

from . import layers as L


def text_encoder_forward(cfg, w, input_ids):
    """Causal Qwen3 stack, no attention mask; last hidden state after norm."""
    x = w["embed_tokens.weight"][input_ids]
    length = x.shape[1]
    rope = L.rope_tables(length, cfg.head_dim, cfg.rope_theta)
    mask = L.build_mask(length, length, causal=True)
    for i in range(cfg.num_layers):
        x = L.encoder_layer(x, w, f"layers.{i}.", cfg.heads, cfg.kv_heads,
                            cfg.head_dim, cfg.eps, rope, mask)
    return L.rmsnorm(x, w["norm.weight"], cfg.eps)


def lyric_embed(w, lyric_ids):
    """Embedding-table lookup only (no transformer layers)."""
    return w["embed_tokens.weight"][lyric_ids]
