"""PyTorch side of scripts/bench-models: times the reference modules of
tests/reference/acestep/ (plain PyTorch, float32) on the inputs that
acefit-model-bench wrote, and compares the outputs with acefit's.

  bench_reference.py dit --checkpoint DIR --frames 750,4500 --io DIR
                     [--enc-len 300] [--warmup 1] [--runs 3] [--threads 2]
  bench_reference.py vae --vae DIR --frames 250 --io DIR [...]
  bench_reference.py lm --checkpoint DIR --prompt 256 --steps 32 --io DIR
                     [--warmup 2] [--threads 2]

Inputs are read from --io under the names acefit-model-bench uses
(dit_T<T>_x_t.f32, ... raw little-endian f32); every acefit output present
there (dit_T<T>_velocity_<dtype>.f32, vae_T<T>_audio.f32) is compared by
cosine similarity and max |diff| / max |reference|. Prints one JSON object
per line on stdout.

Weights: the DiT checkpoint holds the condition encoder, tokenizer and
detokenizer too (2.4 G parameters); only the decoder.* tensors are widened
to float32, read through safetensors_io's header reader and its bf16 rule
(bits << 16), so the process holds the decoder alone (like acefit) instead of
the whole file plus every tensor widened. The VAE uses checkpoint.load_vae.

lm: acestep.lm (float32, its KvCache) on the prompt ids and tokens that
acefit-model-bench wrote (lm_P<P>_prompt.i32, lm_P<P>_tokens.i32): the two
prompts prefilled as a batch of 2, then one step per token for both
sequences, each step the layers, the head over the audio-code rows
[151669, 215669) only and nothing else (the logits are on the host
already). Each step is timed alone; the warm-up steps are left out. The last
step's logits are compared with lm_P<P>_logits_<dtype>.f32.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from acestep import checkpoint, safetensors_io  # noqa: E402
from acestep import lm as lm_ref  # noqa: E402
from acestep.dit import dit_forward  # noqa: E402
from acestep.vae import VaeDecoder  # noqa: E402


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_prefix(path, prefix):
    """{name: float32 tensor} for the tensors whose name starts with prefix,
    read one at a time (so only the widened tensors stay resident)."""
    header, base = safetensors_io.read_header(path)
    out = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            if name == "__metadata__" or not name.startswith(prefix):
                continue
            begin, end = info["data_offsets"]
            f.seek(base + begin)
            raw = f.read(end - begin)
            if info["dtype"] == "BF16":
                arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view("<f4")
            elif info["dtype"] == "F32":
                arr = np.frombuffer(raw, dtype="<f4").copy()
            else:
                raise ValueError(f"{name}: unexpected dtype {info['dtype']}")
            out[name] = torch.from_numpy(arr).reshape(info["shape"])
    return out


def read_raw(path, shape):
    arr = np.fromfile(path, dtype="<f4")
    assert arr.size == int(np.prod(shape)), (path, arr.size, shape)
    return torch.from_numpy(arr).reshape(shape)


def compare(reference, path):
    """(cosine, max |diff| / max |reference|) of acefit's output at path."""
    other = read_raw(path, reference.shape).to(torch.float64).flatten()
    ref = reference.to(torch.float64).flatten()
    cosine = float(torch.dot(ref, other) / (ref.norm() * other.norm()))
    rel = float((ref - other).abs().max() / ref.abs().max())
    return cosine, rel


def print_row(row, output, prefix):
    """Adds the comparison with acefit's output of each dtype that was
    written (prefix_bf16.f32, prefix_f32.f32) and the peak RSS, then prints
    the row as one JSON line."""
    for dtype in ("bf16", "f32"):
        path = f"{prefix}_{dtype}.f32"
        if os.path.exists(path):
            cosine, rel = compare(output, path)
            row[f"cosine_{dtype}"] = cosine
            row[f"max_rel_diff_{dtype}"] = rel
    row["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(row), flush=True)


DEVICE = "cpu"  # --device: cpu, or cuda[:N] to time PyTorch on a GPU


def synchronize():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def time_runs(fn, warmup, runs, label):
    """(last output, wall seconds, CPU seconds) of the timed runs."""
    seconds, cpu_seconds = [], []
    out = None
    for i in range(warmup + runs):
        cpu0 = time.process_time()
        start = time.perf_counter()
        out = fn()
        synchronize()
        s = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        print(f"  {label} {'warm-up' if i < warmup else 'timed'} run {i}: {s:.3f} s"
              f" (cpu {cpu:.3f} s)", file=sys.stderr, flush=True)
        if i >= warmup:
            seconds.append(s)
            cpu_seconds.append(cpu)
    return out, seconds, cpu_seconds


def bench_dit(args):
    cfg = checkpoint.DitConfig(checkpoint._json(os.path.join(args.checkpoint, "config.json")))
    start = time.perf_counter()
    w = load_prefix(os.path.join(args.checkpoint, "model.safetensors"), "decoder.")
    w = {name: tensor.to(DEVICE) for name, tensor in w.items()}
    load_s = time.perf_counter() - start
    print(f"pytorch dit: loaded {len(w)} decoder tensors in {load_s:.1f} s",
          file=sys.stderr, flush=True)
    in_ch = cfg.in_channels - cfg.latent_dim
    for frames in args.frames:
        base = os.path.join(args.io, f"dit_T{frames}")
        x_t = read_raw(base + "_x_t.f32", (1, frames, cfg.latent_dim)).to(DEVICE)
        context = read_raw(base + "_context.f32", (1, frames, in_ch)).to(DEVICE)
        enc = read_raw(base + "_enc.f32", (1, args.enc_len, cfg.hidden)).to(DEVICE)
        t = torch.tensor([0.5], dtype=torch.float32, device=DEVICE)
        with torch.inference_mode():
            velocity, seconds, cpu_seconds = time_runs(
                lambda: dit_forward(cfg, w, x_t, context, enc, t, t),
                args.warmup, args.runs, f"pytorch dit T={frames}")
        velocity = velocity.cpu()
        row = {"model": "dit", "device": DEVICE, "frames": frames, "enc_len": args.enc_len,
               "threads": torch.get_num_threads(), "load_s": load_s,
               "runs_s": seconds, "median_s": statistics.median(seconds),
               "cpu_runs_s": cpu_seconds, "median_cpu_s": statistics.median(cpu_seconds)}
        print_row(row, velocity, f"{base}_velocity")


def bench_vae(args):
    start = time.perf_counter()
    cfg, w = checkpoint.load_vae(args.vae)
    w = {name: tensor.to(DEVICE) for name, tensor in w.items()}
    decoder = VaeDecoder(cfg, w)
    load_s = time.perf_counter() - start
    for frames in args.frames:
        base = os.path.join(args.io, f"vae_T{frames}")
        z = read_raw(base + "_latents.f32", (1, cfg.latent_channels, frames)).to(DEVICE)
        with torch.inference_mode():
            audio, seconds, cpu_seconds = time_runs(lambda: decoder(z), args.warmup, args.runs,
                                       f"pytorch vae T={frames}")
        audio = audio.cpu()
        row = {"model": "vae", "device": DEVICE, "frames": frames, "samples": int(audio.shape[-1]),
               "threads": torch.get_num_threads(), "load_s": load_s,
               "runs_s": seconds, "median_s": statistics.median(seconds),
               "cpu_runs_s": cpu_seconds, "median_cpu_s": statistics.median(cpu_seconds)}
        path = base + "_audio.f32"
        if os.path.exists(path):
            row["cosine"], row["max_rel_diff"] = compare(audio, path)
        row["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(row), flush=True)


AUDIO_CODE_ROWS = (151669, 151669 + 64000)


def bench_lm(args):
    start = time.perf_counter()
    cfg, w = lm_ref.load_lm(args.checkpoint)
    w = {name: tensor.to(DEVICE) for name, tensor in w.items()}
    load_s = time.perf_counter() - start
    print(f"pytorch lm: loaded {len(w)} tensors in {load_s:.1f} s", file=sys.stderr, flush=True)
    base = os.path.join(args.io, f"lm_P{args.prompt}")
    prompt = np.fromfile(base + "_prompt.i32", dtype="<i4").astype(np.int64)
    tokens = np.fromfile(base + "_tokens.i32", dtype="<i4").astype(np.int64)
    assert prompt.size == 2 * args.prompt, (prompt.size, args.prompt)
    assert tokens.size == args.warmup + args.steps, (tokens.size, args.warmup, args.steps)
    prompt = torch.from_numpy(prompt).reshape(2, args.prompt).to(DEVICE)
    cache = lm_ref.KvCache(cfg.num_layers)
    with torch.inference_mode():
        start = time.perf_counter()
        lm_ref.forward(cfg, w, prompt, cache, logits_positions=None)
        synchronize()
        prefill_s = time.perf_counter() - start
        print(f"pytorch lm: prefill 2 x {args.prompt} tokens in {prefill_s:.2f} s",
              file=sys.stderr, flush=True)
        seconds, cpu_seconds = [], []
        logits = None
        for i, token in enumerate(tokens.tolist()):
            ids = torch.tensor([[token], [token]], dtype=torch.int64, device=DEVICE)
            cpu0 = time.process_time()
            start = time.perf_counter()
            _, logits = lm_ref.forward(cfg, w, ids, cache, head_rows=AUDIO_CODE_ROWS)
            logits = logits[:, 0].cpu()
            s = time.perf_counter() - start
            if i >= args.warmup:
                seconds.append(s)
                cpu_seconds.append(time.process_time() - cpu0)
    median_s = statistics.median(seconds)
    print(f"pytorch lm: {args.steps} steps, median {1e3 * median_s:.1f} ms a step",
          file=sys.stderr, flush=True)
    row = {"model": "lm", "device": DEVICE, "prompt": args.prompt, "steps": args.steps,
           "warmup_steps": args.warmup, "sequences": 2, "threads": torch.get_num_threads(),
           "load_s": load_s, "prefill_s": prefill_s, "steps_s": seconds,
           "median_step_ms": 1e3 * median_s,
           "median_cpu_step_ms": 1e3 * statistics.median(cpu_seconds),
           "steps_per_s": 1.0 / median_s}
    print_row(row, logits, f"{base}_logits")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["dit", "vae", "lm"])
    parser.add_argument("--checkpoint")
    parser.add_argument("--vae")
    parser.add_argument("--frames", type=lambda s: [int(v) for v in s.split(",")])
    parser.add_argument("--prompt", type=int, default=256, help="lm: prompt tokens")
    parser.add_argument("--steps", type=int, default=32, help="lm: timed decode steps")
    parser.add_argument("--io", required=True)
    parser.add_argument("--enc-len", type=int, default=300)
    parser.add_argument("--warmup", type=int, help="warm-up runs (lm: steps); 1 (lm: 2)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda[:N] for a GPU")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    torch.set_num_threads(args.threads)
    if args.warmup is None:
        args.warmup = 2 if args.mode == "lm" else 1
    if args.mode != "lm" and not args.frames:
        parser.error(f"{args.mode} needs --frames")
    if args.mode == "lm":
        if not args.checkpoint:
            parser.error("lm needs --checkpoint")
        bench_lm(args)
    elif args.mode == "dit":
        if not args.checkpoint:
            parser.error("dit needs --checkpoint")
        bench_dit(args)
    else:
        if not args.vae:
            parser.error("vae needs --vae")
        bench_vae(args)


if __name__ == "__main__":
    main()
