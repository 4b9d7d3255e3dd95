#!/usr/bin/env python3
"""Produce the ACE-Step 1.5 golden files from the tiny synthetic checkpoints.

Usage:
  build/bin/acefit make-demo-checkpoints /tmp/ckpt --no-lm
  build/bin/acefit make-demo-checkpoints /tmp/xlckpt --preset xl-tiny --no-lm
  /usr/bin/python3 tests/reference/make_goldens.py /tmp/ckpt tests/data/golden \
      [--xl /tmp/xlckpt] [--lm /tmp/lmckpt]

--xl DIR also writes xl_tiny.safetensors from DIR/acestep-v15-xl-turbo.
--lm DIR also writes lm.safetensors from DIR/acestep-5Hz-lm-0.6B (a folder
made by `acefit make-demo-checkpoints DIR`, without --no-lm) and
lm_sampling.safetensors (the spec 14.8 logits processing, no checkpoint).

The reference in tests/reference/acestep/ is written from the model
specification only (not from the acefit C++ code). Everything runs in float32
on the CPU with fixed seeds, so the output is byte-for-byte deterministic.
"""
import copy
import os
import sys

# oneDNN (used by torch for conv1d / conv_transpose1d) picks its kernels by the
# CPU's instruction set, and its AVX-512 kernels round differently from its
# AVX2 ones. Capping it at AVX2 (before torch is imported) makes the goldens
# byte-identical on AVX2 and AVX-512 machines alike.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("DNNL_MAX_CPU_ISA", "AVX2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from acestep import checkpoint, safetensors_io  # noqa: E402
from acestep.condition_encoder import condition_encoder  # noqa: E402
from acestep.dit import dit_forward  # noqa: E402
from acestep.fsq import detokenize, fsq_decode  # noqa: E402
from acestep import dcw as dcw_mod  # noqa: E402
from acestep import lm as lm_mod  # noqa: E402
from acestep import lm_sampling  # noqa: E402
from acestep.samplers import (base_sample, check_turbo_schedules,  # noqa: E402
                              turbo_sample, turbo_schedule_n)
from acestep.text_encoder import lyric_embed, text_encoder_forward  # noqa: E402
from acestep.vae import VaeDecoder, postprocess, tiled_decode  # noqa: E402
import xl_selftest  # noqa: E402

PAD_ID = 151643
META = {"generator": "tests/reference/make_goldens.py",
        "source": "independent PyTorch reference written from the ACE-Step 1.5 spec",
        "checkpoint": "acefit synth-checkpoints --no-lm (seed 1)"}


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(shape, seed):
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float32)


def fixed_ids(n, seed, high=PAD_ID):
    rs = np.random.RandomState(seed)
    return torch.from_numpy(rs.randint(0, high, size=n).astype(np.int64))


def condition_inputs(cfg, silence):
    """The condition encoder case's inputs: text states [2,10] (row 1: 7
    valid), lyric embeddings [2,40] (row 1: 25 valid), timbre = silence frames
    0..timbre_fix_frame-1 for both items."""
    th = randn((2, 10, cfg.text_dim), 201)
    tm = torch.ones(2, 10, dtype=torch.int64)
    tm[1, 7:] = 0
    le = randn((2, 40, cfg.text_dim), 202)
    lm = torch.ones(2, 40, dtype=torch.int64)
    lm[1, 25:] = 0
    tf = cfg.timbre_fix_frame
    timbre = silence[:tf][None].expand(2, tf, silence.shape[1]).contiguous()
    return th, tm, le, lm, timbre


def check(name, tensors, allow_neg_inf=False, may_be_zero=()):
    for k, v in tensors.items():
        if k in may_be_zero:
            continue
        if v.is_floating_point():
            if allow_neg_inf:  # removed logits are -inf (spec 14.8)
                assert not (torch.isnan(v) | (v == float("inf"))).any(), f"{name}:{k} NaN/+inf"
                assert torch.isfinite(v).any(), f"{name}:{k} no finite value"
            else:
                assert torch.isfinite(v).all(), f"{name}:{k} not finite"
            assert v[torch.isfinite(v)].abs().max() > 0, f"{name}:{k} all zeros"


def write(out_dir, name, tensors, note="", allow_neg_inf=False, may_be_zero=(),
          checkpoint=None):
    check(name, tensors, allow_neg_inf, may_be_zero)
    meta = dict(META)
    if checkpoint is not None:
        meta["checkpoint"] = checkpoint
    if note:
        meta["note"] = note
    path = os.path.join(out_dir, name)
    safetensors_io.save(path, tensors, meta)
    print(f"wrote {path}")
    for k in sorted(tensors):
        print(f"  {k} {str(tensors[k].dtype).replace('torch.', '')} {list(tensors[k].shape)}")


def take_option(args, flag):
    """Removes `flag VALUE` from args; returns VALUE or None."""
    if flag not in args:
        return None
    i = args.index(flag)
    if i + 1 >= len(args):
        print(__doc__)
        sys.exit(2)
    value = args[i + 1]
    del args[i:i + 2]
    return value


def main():
    args = sys.argv[1:]
    xl_root = take_option(args, "--xl")
    lm_root = take_option(args, "--lm")
    if len(args) != 2:
        print(__doc__)
        sys.exit(2)
    ckpt, out_dir = args
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)

    dit_dir = os.path.join(ckpt, "acestep-v15-turbo")
    cfg, w = checkpoint.load_dit(dit_dir)
    tcfg, tw = checkpoint.load_text(os.path.join(ckpt, "Qwen3-Embedding-0.6B"))
    vcfg, vw = checkpoint.load_vae(os.path.join(ckpt, "vae"))
    silence = checkpoint.load_silence_latent(dit_dir)  # [15000, 64]
    vae = VaeDecoder(vcfg, vw)
    tf = cfg.timbre_fix_frame

    # 1. text encoder + lyric lookup
    ids = fixed_ids(20, 101)
    ids[-3:] = PAD_ID
    ids = ids[None]
    lyr = fixed_ids(12, 102)[None]
    write(out_dir, "text_encoder.safetensors", {
        "input_ids": ids,
        "hidden_states": text_encoder_forward(tcfg, tw, ids),
        "lyric_ids": lyr,
        "lyric_embeddings": lyric_embed(tw, lyr),
    })

    # 2. condition encoder
    th, tm, le, lm, timbre = condition_inputs(cfg, silence)
    ce = condition_encoder(cfg, w, th, tm, le, lm, timbre)
    write(out_dir, "condition_encoder.safetensors", {
        "text_hidden_states": th, "text_mask": tm,
        "lyric_embeddings": le, "lyric_mask": lm,
        "timbre_latents": timbre,
        "text_projected": ce["text_projected"],
        "lyric_encoded": ce["lyric_encoded"],
        "timbre_encoded": ce["timbre_encoded"],
        "encoder_states": ce["encoder_states"],
        "encoder_mask": ce["encoder_mask"],
    })

    # 3. one DiT step (T odd -> zero-frame padding)
    x_t = randn((2, 75, cfg.latent_dim), 301)
    ctx = randn((2, 75, 2 * cfg.latent_dim), 302)
    enc = randn((2, 30, cfg.hidden), 303)
    ts = torch.tensor([0.9, 0.5], dtype=torch.float32)
    write(out_dir, "dit_step.safetensors", {
        "x_t": x_t, "context": ctx, "encoder_states": enc, "timestep": ts,
        "velocity": dit_forward(cfg, w, x_t, ctx, enc, ts, ts),
    }, note="r = t (t - r = 0)")

    # 4. FSQ decode + detokenizer
    codes = torch.tensor([0, 63999, 12345, 777, 40000, 2561, 51234], dtype=torch.int64)
    q = fsq_decode(cfg, w, codes)
    write(out_dir, "detokenizer.safetensors", {
        "codes": codes, "quantized": q, "hints": detokenize(cfg, w, q),
    })

    # 5. VAE decode (plain and tiled)
    lat = randn((1, vcfg.latent_channels, 10), 501)
    lat_long = randn((1, vcfg.latent_channels, 50), 502)
    write(out_dir, "vae_decode.safetensors", {
        "latents": lat, "audio": vae(lat),
        "latents_long": lat_long,
        "audio_tiled": tiled_decode(vae, lat_long, chunk=24, overlap=4),
        "tile_chunk": torch.tensor([24], dtype=torch.int64),
        "tile_overlap": torch.tensor([4], dtype=torch.int64),
    }, note="raw decoder output, no post-processing")

    # 6. turbo end to end
    cap = fixed_ids(24, 601)[None]
    lyr = fixed_ids(30, 602)[None]
    noise = randn((1, 60, cfg.latent_dim), 603)
    text_h = text_encoder_forward(tcfg, tw, cap)
    lyric_h = lyric_embed(tw, lyr)
    ce = condition_encoder(cfg, w, text_h, torch.ones(1, 24, dtype=torch.int64),
                           lyric_h, torch.ones(1, 30, dtype=torch.int64),
                           silence[:tf][None].contiguous())
    enc = ce["encoder_states"]
    context = torch.cat([silence[:60][None], torch.ones(1, 60, cfg.latent_dim)], dim=-1)
    states = turbo_sample(cfg, w, noise, context, enc, shift=3.0, method="ode")
    audio = postprocess(vae(states[-1].transpose(1, 2).contiguous()))
    sde_noises = [randn((1, 60, cfg.latent_dim), 610 + i) for i in range(7)]
    sde_states = turbo_sample(cfg, w, noise, context, enc, shift=3.0, method="sde",
                              sde_noises=sde_noises)
    t6 = {"caption_ids": cap, "lyric_ids": lyr, "noise": noise,
          "encoder_states": enc, "audio": audio}
    for i, s in enumerate(states):
        t6[f"latents_step_{i}"] = s
    for i, s in enumerate(sde_states):
        t6[f"sde_latents_step_{i}"] = s
    for i, n in enumerate(sde_noises):
        t6[f"sde_noise_{i}"] = n
    write(out_dir, "turbo_e2e.safetensors", t6,
          note="turbo shift 3, 8 steps; masks all ones; timbre = silence[:750]; "
               "context = [silence[:60] | ones]; audio post-processed (-1 dBFS)")

    # 7. base sampler (same inputs)
    states = base_sample(cfg, w, noise, context, enc, steps=4, shift=2.0, guidance=7.0,
                         cfg_interval=(0.0, 1.0))
    plain = base_sample(cfg, w, noise, context, enc, steps=4, shift=2.0, guidance=1.0)
    t7 = {"caption_ids": cap, "lyric_ids": lyr, "noise": noise, "encoder_states": enc}
    for i, s in enumerate(states):
        t7[f"latents_step_{i}"] = s
    for i, s in enumerate(plain):
        t7[f"base_plain_latents_step_{i}"] = s
    write(out_dir, "base_e2e.safetensors", t7,
          note="base Euler, steps 4, shift 2.0; guidance 7.0 with APG (momentum -0.75, "
               "norm threshold 2.5, eta 0), CFG interval [0, 1]; plain = guidance 1.0")

    # 8. DCW (spec 18.4) and the n-step turbo schedule (spec 18.3), same inputs
    sampler_dcw(out_dir, cfg, w, noise, context, enc, sde_noises,
                ode_off=t6, sde_off=sde_states, base_off=states)

    # 8b. DCW alone on an odd length (zero-padded last pair)
    xn = randn((2, 75, cfg.latent_dim), 801)
    den = randn((2, 75, cfg.latent_dim), 802)
    t_dcw = 0.7
    t8b = {"x_next": xn, "denoised": den, "t": torch.tensor([t_dcw], dtype=torch.float32)}
    for mode in dcw_mod.MODES:
        t8b[f"dcw_{mode}"] = dcw_mod.dcw_apply(xn, den, t_dcw, mode, 0.05, 0.02)
    write(out_dir, "dcw_step.safetensors", t8b,
          note="one DCW correction, Haar filter bank, T = 75 (odd: one zero frame, "
               "trimmed); t = 0.7, scaler 0.05, high_scaler 0.02")

    # 9. XL tiny (spec 18.5), from acefit's xl-tiny checkpoint
    if xl_root is not None:
        xl_tiny(out_dir, os.path.join(xl_root, "acestep-v15-xl-turbo"))

    # 10. the 5 Hz LM (spec 14) and its sampling steps (spec 14.8)
    if lm_root is not None:
        lm_golden(out_dir, os.path.join(lm_root, "acestep-5Hz-lm-0.6B"))
        lm_sampling_golden(out_dir)


def xl_tiny(out_dir, dit_dir):
    """Condition encoder, one DiT step and the detokenizer of an XL DiT,
    with the inputs of condition_encoder / dit_step / detokenizer."""
    xl_selftest.main()
    cfg, w = checkpoint.load_dit(dit_dir)
    assert cfg.is_xl, f"{dit_dir}: config.json has no encoder_hidden_size"
    # names and shapes: the spec 15.1 list at these widths, built independently
    expect = {k: list(v.shape) for k, v in xl_selftest.make_weights(cfg.raw, 0).items()}
    got = {k: list(v.shape) for k, v in w.items()}
    diff = sorted(k for k in set(got) | set(expect) if got.get(k) != expect.get(k))
    assert not diff, f"names/shapes differ from spec 15.1: {diff[:8]}"
    silence = checkpoint.load_silence_latent(dit_dir)
    th, tm, le, lm, timbre = condition_inputs(cfg, silence)
    ce = condition_encoder(cfg, w, th, tm, le, lm, timbre)
    x_t = randn((2, 75, cfg.latent_dim), 301)
    ctx = randn((2, 75, 2 * cfg.latent_dim), 302)
    # One key, encoder_states, serves both cases: the DiT step takes the
    # condition encoder's packed output (before condition_embedder) as its
    # encoder states, [2, 51, encoder_hidden_size].
    enc = ce["encoder_states"]
    ts = torch.tensor([0.9, 0.5], dtype=torch.float32)
    codes = torch.tensor([0, 63999, 12345, 777, 40000, 2561, 51234], dtype=torch.int64)
    q = fsq_decode(cfg, w, codes)
    t9 = {
        "text_hidden_states": th, "text_mask": tm,
        "lyric_embeddings": le, "lyric_mask": lm,
        "timbre_latents": timbre,
        "text_projected": ce["text_projected"],
        "lyric_encoded": ce["lyric_encoded"],
        "timbre_encoded": ce["timbre_encoded"],
        "encoder_states": ce["encoder_states"],
        "encoder_mask": ce["encoder_mask"],
        "x_t": x_t, "context": ctx, "timestep": ts,
        "velocity": dit_forward(cfg, w, x_t, ctx, enc, ts, ts),
        "codes": codes, "quantized": q, "hints": detokenize(cfg, w, q),
    }
    # sensitivity: the same weights read the 2B way (no special token, frame 0)
    cfg2 = copy.copy(cfg)
    cfg2.is_xl = False
    ce2 = condition_encoder(cfg2, w, th, tm, le, lm, timbre)
    v2 = dit_forward(cfg, w, x_t, ctx, ce2["encoder_states"], ts, ts)
    print("  sensitivity xl special token (2B reading vs XL, max|diff|/peak): "
          f"timbre_encoded {rel_change(ce2['timbre_encoded'], ce['timbre_encoded']):.2e}, "
          f"encoder_states {rel_change(ce2['encoder_states'], ce['encoder_states']):.2e}, "
          f"velocity {rel_change(v2, t9['velocity']):.2e}")
    write(out_dir, "xl_tiny.safetensors", t9,
          note=f"XL DiT: decoder hidden {cfg.hidden}, encoder hidden {cfg.enc_hidden}; "
               "timbre encoder prepends special_token; DiT step r = t, its encoder "
               "states = the packed encoder_states (before condition_embedder)")


def rel_change(on, off):
    """max |on - off| over the max |off| (the peak of the DCW-off state)."""
    return float((on - off).abs().max() / off.abs().max())


def sampler_dcw(out_dir, cfg, w, noise, context, enc, sde_noises, ode_off, sde_off,
                base_off):
    dcw_mod.self_test()
    check_turbo_schedules()
    dcw = {"mode": "double", "scaler": 0.05, "high_scaler": 0.02}
    t8 = {"noise": noise, "context": context, "encoder_states": enc}
    for i, n in enumerate(sde_noises):
        t8[f"sde_noise_{i}"] = n
    runs = {
        "turbo_ode_dcw": dict(method="ode", dcw=dcw),
        "turbo_sde_dcw": dict(method="sde", dcw=dcw, sde_noises=sde_noises),
        "turbo_ode_dcw_low": dict(method="ode", dcw=dict(dcw, mode="low")),
        "turbo_ode_dcw_high": dict(method="ode", dcw=dict(dcw, mode="high")),
        "turbo_ode_dcw_pix": dict(method="ode", dcw=dict(dcw, mode="pix")),
    }
    for name, kw in runs.items():
        st = turbo_sample(cfg, w, noise, context, enc, shift=3.0, steps=8, **kw)
        off = sde_off if kw["method"] == "sde" else [
            ode_off[f"latents_step_{i}"] for i in range(8)]
        for i, s in enumerate(st):
            t8[f"{name}_step_{i}"] = s
        print(f"  sensitivity {name}: max|on-off|/peak per step "
              + " ".join(f"{rel_change(a, b):.2e}" for a, b in zip(st, off)))
    ts5 = turbo_schedule_n(5, 2.5)
    t8["turbo5_shift2p5_t"] = torch.tensor(ts5, dtype=torch.float32)
    st = turbo_sample(cfg, w, noise, context, enc, shift=2.5, steps=5, method="ode")
    for i, s in enumerate(st):
        t8[f"turbo5_shift2p5_step_{i}"] = s
    print("  turbo5 shift 2.5 t: " + ", ".join(repr(t) for t in ts5))
    st = base_sample(cfg, w, noise, context, enc, steps=4, shift=2.0, guidance=7.0,
                     cfg_interval=(0.0, 1.0), dcw=dcw)
    for i, s in enumerate(st):
        t8[f"base_cfg_dcw_step_{i}"] = s
    print("  sensitivity base_cfg_dcw: max|on-off|/peak per step "
          + " ".join(f"{rel_change(a, b):.2e}" for a, b in zip(st, base_off)))
    write(out_dir, "sampler_dcw.safetensors", t8,
          note="same inputs as turbo_e2e/base_e2e; DCW Haar, applied after every step "
               "(last included); double: scaler 0.05, high_scaler 0.02; low/high/pix: "
               "scaler 0.05; turbo shift 3, 8 steps; turbo5: 5 steps, shift 2.5, DCW off; "
               "base: Euler 4 steps, shift 2.0, guidance 7.0 APG, CFG interval [0, 1]")

# Prompt of the LM golden: chat specials (<|im_start|> 151644, <|im_end|>
# 151645, <think> 151667, </think> 151668), ordinary text ids and audio codes
# (151669 + N, N = 0, 12345, 63999).
LM_PROMPT = [151644, 872, 198, 2, 9707, 11, 1879, 151645, 198, 151644, 77091, 198,
             151667, 198, 151668, 151669, 151669 + 12345, 151669 + 63999]
LM_DECODE = [151669 + 777, 151669 + 40000, 151645]
LM_CODE_BASE = 151669


def lm_logit_columns():
    """Vocabulary ids whose logits the decode steps keep: 0..4095, the
    specials 151643..151668, audio codes 0..4095 (151669..155764)."""
    return torch.cat([torch.arange(0, 4096), torch.arange(151643, LM_CODE_BASE),
                      torch.arange(LM_CODE_BASE, LM_CODE_BASE + 4096)]).to(torch.int64)


def lm_golden(out_dir, lm_dir):
    cfg, w = lm_mod.load_lm(lm_dir)
    ids = torch.tensor([LM_PROMPT], dtype=torch.int64)
    dec = torch.tensor(LM_DECODE, dtype=torch.int64)
    worst = lm_mod.self_check(cfg, w, ids, dec)
    print(f"  lm self-check: cached decode / chunked prefill vs full recompute, "
          f"max|diff|/peak {worst:.2e}")
    hidden, last, dh, dl = lm_mod.run(cfg, w, ids, dec)
    cols = lm_logit_columns()
    # sensitivity: decode positions one too far, and RoPE theta 1e4
    cache = lm_mod.KvCache(cfg.num_layers)
    lm_mod.forward(cfg, w, ids, cache)
    cache.length += 1
    off = torch.stack([lm_mod.forward(cfg, w, torch.tensor([[t]]), cache)[1][0, 0]
                       for t in LM_DECODE])
    cfg2 = copy.copy(cfg)
    cfg2.rope_theta = 1e4
    _, last2, _, dl2 = lm_mod.run(cfg2, w, ids, dec)
    print(f"  sensitivity lm: decode position +1 -> decode logits {rel_change(off, dl):.2e}; "
          f"rope theta 1e4 -> last logits {rel_change(last2, last):.2e}, "
          f"decode logits {rel_change(dl2, dl):.2e}")
    write(out_dir, "lm.safetensors", {
        "input_ids": ids,
        "hidden_states": hidden,
        "logits": last,
        "decode_ids": dec,
        "decode_hidden_states": dh,
        "decode_logit_ids": cols,
        "decode_logits": dl[:, cols],
    }, note=f"Qwen3 causal LM (hidden {cfg.hidden}, {cfg.num_layers} layers, "
            f"{cfg.heads}/{cfg.kv_heads} heads, head_dim {cfg.head_dim}, theta "
            f"{cfg.rope_theta:g}); prefill input_ids, then one cached decode step per "
            "decode_ids entry; logits = last prefill position, full vocabulary; "
            "decode_logits = the columns decode_logit_ids",
          checkpoint="acefit make-demo-checkpoints (seed 1), acestep-5Hz-lm-0.6B")


SAMPLING_VOCAB = 4096


def lm_sampling_cases():
    """(name, options) of the lm_sampling golden; logits are random [V]."""
    v = SAMPLING_VOCAB
    rs = np.random.RandomState(1401)
    allowed_all = torch.ones(v, dtype=torch.int64)
    # a constrained-decoding-like mask: ids 1024.. plus id 7 (say, EOS)
    allowed_codes = torch.zeros(v, dtype=torch.int64)
    allowed_codes[1024:] = 1
    allowed_codes[7] = 1
    return [
        ("defaults", dict(cfg_scale=2.0, allowed=allowed_all,
                          seen=rs.randint(0, v, size=12), penalty=1.0, k=0, p=0.9, t=0.85)),
        ("masked", dict(cfg_scale=2.5, allowed=allowed_codes,
                        seen=np.concatenate([rs.randint(0, v, size=20), [7, 7, 3, 1500, 1500]]),
                        penalty=1.3, k=200, p=0.95, t=1.2)),
        ("no_cfg", dict(cfg_scale=1.0, allowed=allowed_all,
                        seen=rs.randint(0, v, size=30), penalty=0.8, k=50, p=1.0, t=0.5)),
        ("greedy", dict(cfg_scale=3.0, allowed=allowed_all,
                        seen=rs.randint(0, v, size=8), penalty=1.1, k=0, p=0.05, t=0.0)),
    ]


def lm_sampling_golden(out_dir):
    lm_sampling.self_test()
    t = {}
    for i, (name, o) in enumerate(lm_sampling_cases()):
        cond = randn((SAMPLING_VOCAB,), 1410 + 2 * i) * 1.2
        uncond = randn((SAMPLING_VOCAB,), 1411 + 2 * i) * 1.2
        # the seen ids include the three best tokens so that the penalty
        # changes the ranking
        pre = lm_sampling.apply_allowed(
            lm_sampling.cfg_combine(cond, uncond, o["cfg_scale"]), o["allowed"])
        seen = torch.cat([torch.from_numpy(np.asarray(o["seen"], dtype=np.int64)),
                          torch.topk(pre, 3).indices])
        st = lm_sampling.process(cond, uncond, o["cfg_scale"], o["allowed"], seen,
                                 o["penalty"], o["k"], o["p"], o["t"])
        # keep the case away from rounding-sensitive ties: the k-th value is
        # unique, no cumulative sum lies within 1e-4 of p, the top-2 differ
        x = st["after_penalty"]
        fin = x[torch.isfinite(x)]
        if 0 < o["k"] < fin.numel():
            top = torch.topk(fin, o["k"] + 1).values
            assert top[-2] - top[-1] > 1e-4, f"{name}: top-k tie"
        margin = lm_sampling.top_p_margin(st["after_top_k"], o["p"])
        assert margin > 1e-4, f"{name}: top-p margin {margin}"
        top2 = torch.topk(st["after_top_p"], 2).values
        assert top2[0] - top2[1] > 1e-4 or not torch.isfinite(top2[1]), f"{name}: argmax tie"
        kept = int(torch.isfinite(st["after_top_p"]).sum())
        print(f"  lm sampling case{i} ({name}): {kept} tokens kept, argmax "
              f"{int(st['argmax'])}, top-p margin {margin:.1e}")
        p = f"case{i}_"
        t.update({
            p + "cond": cond, p + "uncond": uncond,
            p + "cfg_scale": torch.tensor([o["cfg_scale"]], dtype=torch.float32),
            p + "allowed": o["allowed"], p + "seen_ids": seen,
            p + "repetition_penalty": torch.tensor([o["penalty"]], dtype=torch.float32),
            p + "top_k": torch.tensor([o["k"]], dtype=torch.int64),
            p + "top_p": torch.tensor([o["p"]], dtype=torch.float32),
            p + "temperature": torch.tensor([o["t"]], dtype=torch.float32),
        })
        for k, v in st.items():
            t[p + k] = v
    write(out_dir, "lm_sampling.safetensors", t, allow_neg_inf=True,
          may_be_zero={f"case{i}_temperature" for i in range(len(lm_sampling_cases()))},
          note="spec 14.8 per-step logits processing on random logits [4096]: "
               "after_cfg, after_mask (allowed), after_penalty (seen_ids, each id "
               "once), after_top_k, after_top_p (removed = -inf), argmax, probs = "
               "softmax(after_top_p / temperature) when temperature > 0",
          checkpoint="none")


if __name__ == "__main__":
    main()
