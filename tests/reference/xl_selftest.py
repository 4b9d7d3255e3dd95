#!/usr/bin/env python3
"""Self-test of the reference's XL support (spec 18.5) on XL-shaped
checkpoints made here with random weights (no acefit involved).

Usage: /usr/bin/python3 tests/reference/xl_selftest.py

Checks:
  * an XL checkpoint whose encoder width (64) differs from the decoder width
    (96), with other head counts, runs through the condition encoder, one DiT
    step and the detokenizer with the right shapes;
  * the XL timbre encoder's output depends on special_token; the 2B one's
    does not;
  * with the encoder dims set equal to the decoder's, the XL reading and the
    2B reading of the same weights agree everywhere except the timbre
    encoder (and so the packed encoder states);
  * an all-ones timbre mask equals no mask (the mask grows by one for the
    prepended token).
"""
import json
import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from acestep import checkpoint, safetensors_io  # noqa: E402
from acestep.condition_encoder import condition_encoder, timbre_encoder  # noqa: E402
from acestep.dit import dit_forward  # noqa: E402
from acestep.fsq import detokenize, fsq_decode  # noqa: E402

XL_DIMS = dict(
    hidden_size=96, intermediate_size=192, num_attention_heads=6, num_key_value_heads=2,
    encoder_hidden_size=64, encoder_intermediate_size=128,
    encoder_num_attention_heads=4, encoder_num_key_value_heads=2,
)


def make_config(dims, xl=True):
    d = {
        "architectures": ["AceStepConditionGenerationModel"], "model_type": "acestep",
        "head_dim": 16, "num_hidden_layers": 3, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "use_sliding_window": True, "sliding_window": 8,
        "layer_types": ["sliding_attention", "full_attention", "sliding_attention"],
        "num_lyric_encoder_hidden_layers": 2, "num_timbre_encoder_hidden_layers": 2,
        "num_attention_pooler_hidden_layers": 2, "audio_acoustic_hidden_dim": 64,
        "timbre_hidden_dim": 64, "text_hidden_dim": 32, "in_channels": 192,
        "patch_size": 2, "pool_window_size": 5, "fsq_input_levels": [8, 8, 8, 5, 5, 5],
        "timbre_fix_frame": 40, "model_version": "xl_turbo", "is_turbo": True,
    }
    d.update(dims)
    d["fsq_dim"] = d.get("encoder_hidden_size", d["hidden_size"])
    if not xl:
        for k in ("encoder_hidden_size", "encoder_intermediate_size",
                  "encoder_num_attention_heads", "encoder_num_key_value_heads"):
            d.pop(k, None)
    return d


def make_weights(d, seed):
    """Tensor names of spec 15.1; shapes follow the decoder/encoder widths."""
    g = torch.Generator()
    g.manual_seed(seed)
    w = {}

    def mat(name, out_f, in_f, bias=False):
        w[name + ".weight"] = torch.randn(out_f, in_f, generator=g) / math.sqrt(in_f)
        if bias:
            w[name + ".bias"] = 0.1 * torch.randn(out_f, generator=g)

    def norm(name, n):
        w[name + ".weight"] = 1.0 + 0.1 * torch.randn(n, generator=g)

    def tok(name, *shape):
        w[name] = 0.5 * torch.randn(*shape, generator=g)

    hd = d["head_dim"]
    hdec, idec = d["hidden_size"], d["intermediate_size"]
    qdec, kvdec = d["num_attention_heads"], d["num_key_value_heads"]
    henc = d.get("encoder_hidden_size", hdec)
    ienc = d.get("encoder_intermediate_size", idec)
    qenc = d.get("encoder_num_attention_heads", qdec)
    kvenc = d.get("encoder_num_key_value_heads", kvdec)
    lat, text = d["audio_acoustic_hidden_dim"], d["text_hidden_dim"]

    def attn(p, h, q, kv):
        mat(p + "q_proj", q * hd, h)
        mat(p + "k_proj", kv * hd, h)
        mat(p + "v_proj", kv * hd, h)
        mat(p + "o_proj", h, q * hd)
        norm(p + "q_norm", hd)
        norm(p + "k_norm", hd)

    def mlp(p, h, i):
        mat(p + "gate_proj", i, h)
        mat(p + "up_proj", i, h)
        mat(p + "down_proj", h, i)

    def enc_layers(p, n):
        for j in range(n):
            lp = f"{p}layers.{j}."
            norm(lp + "input_layernorm", henc)
            norm(lp + "post_attention_layernorm", henc)
            attn(lp + "self_attn.", henc, qenc, kvenc)
            mlp(lp + "mlp.", henc, ienc)
        norm(p + "norm", henc)

    # decoder
    for te in ("time_embed", "time_embed_r"):
        p = f"decoder.{te}."
        mat(p + "linear_1", hdec, 256, True)
        mat(p + "linear_2", hdec, hdec, True)
        mat(p + "time_proj", 6 * hdec, hdec, True)
    w["decoder.proj_in.1.weight"] = torch.randn(hdec, 192, 2, generator=g) / math.sqrt(384)
    w["decoder.proj_in.1.bias"] = 0.1 * torch.randn(hdec, generator=g)
    mat("decoder.condition_embedder", hdec, henc, True)
    for i in range(d["num_hidden_layers"]):
        lp = f"decoder.layers.{i}."
        norm(lp + "self_attn_norm", hdec)
        attn(lp + "self_attn.", hdec, qdec, kvdec)
        norm(lp + "cross_attn_norm", hdec)
        attn(lp + "cross_attn.", hdec, qdec, kvdec)
        norm(lp + "mlp_norm", hdec)
        mlp(lp + "mlp.", hdec, idec)
        tok(lp + "scale_shift_table", 1, 6, hdec)
    norm("decoder.norm_out", hdec)
    tok("decoder.scale_shift_table", 1, 2, hdec)
    w["decoder.proj_out.1.weight"] = torch.randn(hdec, lat, 2, generator=g) / math.sqrt(hdec)
    w["decoder.proj_out.1.bias"] = 0.1 * torch.randn(lat, generator=g)
    # condition encoder
    mat("encoder.text_projector", henc, text)
    mat("encoder.lyric_encoder.embed_tokens", henc, text, True)
    enc_layers("encoder.lyric_encoder.", d["num_lyric_encoder_hidden_layers"])
    mat("encoder.timbre_encoder.embed_tokens", henc, d["timbre_hidden_dim"], True)
    tok("encoder.timbre_encoder.special_token", 1, 1, henc)
    enc_layers("encoder.timbre_encoder.", d["num_timbre_encoder_hidden_layers"])
    # FSQ tokenizer
    mat("tokenizer.audio_acoustic_proj", henc, lat, True)
    mat("tokenizer.attention_pooler.embed_tokens", henc, henc, True)
    tok("tokenizer.attention_pooler.special_token", 1, 1, henc)
    enc_layers("tokenizer.attention_pooler.", d["num_attention_pooler_hidden_layers"])
    nl = len(d["fsq_input_levels"])
    mat("tokenizer.quantizer.project_in", nl, d["fsq_dim"], True)
    mat("tokenizer.quantizer.project_out", d["fsq_dim"], nl, True)
    # detokenizer, null condition
    mat("detokenizer.embed_tokens", henc, d["fsq_dim"], True)
    tok("detokenizer.special_tokens", 1, d["pool_window_size"], henc)
    enc_layers("detokenizer.", d["num_attention_pooler_hidden_layers"])
    mat("detokenizer.proj_out", lat, henc, True)
    tok("null_condition_emb", 1, 1, henc)
    return w


def write_checkpoint(folder, d, w):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(d, f, indent=2)
    safetensors_io.save(os.path.join(folder, "model.safetensors"), w)


def run_all(cfg, w, seed=11):
    g = torch.Generator()
    g.manual_seed(seed)
    th = torch.randn(2, 6, cfg.text_dim, generator=g)
    tm = torch.ones(2, 6, dtype=torch.int64)
    tm[1, 4:] = 0
    le = torch.randn(2, 9, cfg.text_dim, generator=g)
    lm = torch.ones(2, 9, dtype=torch.int64)
    lm[1, 5:] = 0
    timbre = torch.randn(2, cfg.timbre_fix_frame, cfg.timbre_dim, generator=g)
    ce = condition_encoder(cfg, w, th, tm, le, lm, timbre)
    x_t = torch.randn(2, 15, cfg.latent_dim, generator=g)
    ctx = torch.randn(2, 15, 2 * cfg.latent_dim, generator=g)
    enc = torch.randn(2, 7, cfg.enc_hidden, generator=g)
    ts = torch.tensor([0.9, 0.5])
    ce["velocity"] = dit_forward(cfg, w, x_t, ctx, enc, ts, ts)
    q = fsq_decode(cfg, w, torch.tensor([0, 63999, 12345]))
    ce["quantized"] = q
    ce["hints"] = detokenize(cfg, w, q)
    ce["timbre_in"] = timbre
    return ce


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        # 1. XL with distinct encoder/decoder widths and head counts
        d = make_config(XL_DIMS)
        w = make_weights(d, 1)
        write_checkpoint(os.path.join(tmp, "xl"), d, w)
        cfg, w = checkpoint.load_dit(os.path.join(tmp, "xl"))
        assert cfg.is_xl and cfg.enc_hidden == 64 and cfg.hidden == 96
        assert cfg.encoder().heads == 4 and cfg.heads == 6
        out = run_all(cfg, w)
        assert out["text_projected"].shape == (2, 6, 64)
        assert out["lyric_encoded"].shape == (2, 9, 64)
        assert out["timbre_encoded"].shape == (2, 1, 64)
        assert out["encoder_states"].shape == (2, 16, 64)
        assert out["velocity"].shape == (2, 15, 64)
        assert out["quantized"].shape == (1, 3, 64)
        assert out["hints"].shape == (1, 15, 64)
        for k, v in out.items():
            assert torch.isfinite(v.float()).all(), k
        # special token matters for XL
        w2 = dict(w)
        w2["encoder.timbre_encoder.special_token"] = w["encoder.timbre_encoder.special_token"] + 0.5
        t_a = timbre_encoder(cfg.encoder(), w, out["timbre_in"])
        t_b = timbre_encoder(cfg.encoder(), w2, out["timbre_in"])
        r_tok = rel(t_b, t_a)
        assert r_tok > 1e-2, r_tok
        # an all-ones mask equals no mask
        ones = torch.ones(2, cfg.timbre_fix_frame, dtype=torch.int64)
        t_m = timbre_encoder(cfg.encoder(), w, out["timbre_in"], mask=ones)
        assert torch.allclose(t_m, t_a, atol=1e-6, rtol=0)
        # a masked frame is ignored (mask grows by one, the token stays visible)
        mask = ones.clone()
        mask[:, -3:] = 0
        frames = out["timbre_in"].clone()
        frames[:, -3:] = 100.0
        t_x = timbre_encoder(cfg.encoder(), w, frames, mask=mask)
        t_y = timbre_encoder(cfg.encoder(), w, out["timbre_in"], mask=mask)
        assert torch.allclose(t_x, t_y, atol=1e-6, rtol=0)
        print(f"XL 96/64: shapes ok; special_token +0.5 moves timbre_encoded by "
              f"{r_tok:.2f} of its peak")

        # 2. equal dims: XL reading vs 2B reading of the same weights
        same = dict(XL_DIMS, encoder_hidden_size=96, encoder_intermediate_size=192,
                    encoder_num_attention_heads=6, encoder_num_key_value_heads=2)
        dx = make_config(same, xl=True)
        d2 = make_config(same, xl=False)
        ws = make_weights(dx, 2)
        write_checkpoint(os.path.join(tmp, "xl_eq"), dx, ws)
        write_checkpoint(os.path.join(tmp, "b2"), d2, ws)
        cx, wx = checkpoint.load_dit(os.path.join(tmp, "xl_eq"))
        c2, w2b = checkpoint.load_dit(os.path.join(tmp, "b2"))
        assert cx.is_xl and not c2.is_xl
        ox, o2 = run_all(cx, wx), run_all(c2, w2b)
        for k in ("text_projected", "lyric_encoded", "velocity", "quantized", "hints"):
            assert torch.equal(ox[k], o2[k]), k
        r_xl = rel(ox["timbre_encoded"], o2["timbre_encoded"])
        assert r_xl > 1e-2, r_xl
        # 2B ignores the special token
        w3 = dict(w2b)
        w3["encoder.timbre_encoder.special_token"] = w2b["encoder.timbre_encoder.special_token"] + 0.5
        assert torch.equal(timbre_encoder(c2.encoder(), w3, o2["timbre_in"]),
                           timbre_encoder(c2.encoder(), w2b, o2["timbre_in"]))
        print(f"equal dims: XL and 2B readings agree except the timbre encoder "
              f"(differs by {r_xl:.2f} of its peak)")
    print("xl self-test passed")


if __name__ == "__main__":
    main()
