#!/usr/bin/env bash
# acefit make-demo-checkpoints then acefit generate, end to end: valid 48 kHz
# stereo WAV and FLAC of the requested length (headers read with od, not
# with acefit's own reader), identical output for the same seed, different
# output for another, batch file naming, the --json keys, and clear errors.
# Usage: generate_test.sh ACEFIT WORKDIR (needs ACEFIT_QWEN3_TOKENIZER_DIR or
# the folder scripts/fetch-tokenizer fills).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
u32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }
u16() { od -An -tu2 -j"$2" -N2 "$1" | tr -d ' '; }

"$acefit" make-demo-checkpoints "$work/ck" --no-lm >/dev/null
[ -f "$work/ck/Qwen3-Embedding-0.6B/tokenizer.json" ] || fail "no tokenizer files written"
[ -f "$work/ck/acestep-v15-turbo/silence_latent.pt" ] || fail "no silence_latent.pt"
gen() { "$acefit" generate --checkpoints "$work/ck" --caption "warm lo-fi piano" \
          --lyrics "[verse] hello" --bpm 90 --keyscale "C major" --timesignature 4/4 "$@"; }

# WAV: 10 s -> 480000 frames of 2 x 16-bit at 48 kHz.
ACEFIT_THREADS=2 gen --duration 10 --seed 7 --out "$work/a.wav" >/dev/null 2>"$work/a.log"
grep -q "real-time factor" "$work/a.log" || fail "no timing breakdown on stderr"
grep -q "diffusion .*step 8/8" "$work/a.log" || fail "no diffusion progress on stderr"
[ "$(head -c4 "$work/a.wav")" = "RIFF" ] || fail "a.wav is not RIFF"
[ "$(u16 "$work/a.wav" 22)" = 2 ] || fail "a.wav is not stereo"
[ "$(u32 "$work/a.wav" 24)" = 48000 ] || fail "a.wav is not 48 kHz"
[ "$(u32 "$work/a.wav" 40)" = $((480000 * 4)) ] || fail "a.wav data is not 10 s"
# Not silent: some sample is far from zero.
od -An -td2 -j44 -N20000 -w2 "$work/a.wav" | awk '{v=$1<0?-$1:$1; if (v>1000) n++} END {exit !(n>0)}' \
  || fail "a.wav is silent"

# Same seed: identical bytes, whatever the thread count (a: 2 threads, b: 1).
# Another seed: different.
ACEFIT_THREADS=1 gen --duration 10 --seed 7 --out "$work/b.wav" >/dev/null 2>&1
cmp -s "$work/a.wav" "$work/b.wav" || fail "the same seed gave different audio with 1 and 2 threads"
gen --duration 10 --seed 8 --out "$work/c.wav" >/dev/null 2>&1
! cmp -s "$work/a.wav" "$work/c.wav" || fail "another seed gave the same audio"

# FLAC (by --format): STREAMINFO says 48 kHz, 2 channels, 16 bits, 12 s.
gen --duration 12 --format flac --out "$work/d.flac" --json >"$work/d.json" 2>/dev/null
[ "$(head -c4 "$work/d.flac")" = "fLaC" ] || fail "d.flac is not FLAC"
read -r b0 b1 b2 b3 b4 b5 b6 b7 <<<"$(od -An -tu1 -j18 -N8 "$work/d.flac")"
rate=$(( (b0 << 12) | (b1 << 4) | (b2 >> 4) ))
channels=$(( ((b2 >> 1) & 7) + 1 ))
bits=$(( (((b2 & 1) << 4) | (b3 >> 4)) + 1 ))
samples=$(( ((b3 & 15) << 32) | (b4 << 24) | (b5 << 16) | (b6 << 8) | b7 ))
[ "$rate $channels $bits $samples" = "48000 2 16 576000" ] \
  || fail "d.flac STREAMINFO: rate $rate, channels $channels, bits $bits, samples $samples"
for key in '"outputs"' '"duration_s": 12.0' '"sample_rate": 48000' '"timings"' '"settings"' \
           '"warnings"' '"dit_steps_s"' '"vae_decode_s"' '"text_encoding_s"' '"real_time_factor"'; do
  grep -q "$key" "$work/d.json" || fail "--json lacks $key"
done

# A batch of 2 (on a simulated 24 GB GPU, whose tier allows it): PATH-1, PATH-2.
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=24 gen --duration 10 --batch 2 --out "$work/e.wav" >/dev/null 2>&1
[ -f "$work/e-1.wav" ] && [ -f "$work/e-2.wav" ] || fail "batch outputs e-1.wav, e-2.wav missing"
! cmp -s "$work/e-1.wav" "$work/e-2.wav" || fail "batch items have the same audio"
cmp -s "$work/e-1.wav" "$work/c.wav" && fail "item 1 of seed 42 equals seed 8"
# No --batch: one song named as given, even where the tier allows 8.
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=24 gen --duration 10 --seed 43 --out "$work/f.wav" >/dev/null 2>&1
[ -f "$work/f.wav" ] && [ ! -e "$work/f-1.wav" ] || fail "the default batch is not one song named f.wav"
# Item 2 has seed 43's noise; the batch of 2 changes only the float rounding
# (BLAS blocking depends on the row count), so it matches seed 43 alone to
# within 64 LSB (0.2 % of full scale) while other seeds differ by far more.
maxdiff() { paste <(od -An -td2 -j44 -w2 -v "$1") <(od -An -td2 -j44 -w2 -v "$2") |
            awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {print m+0}'; }
[ "$(maxdiff "$work/e-2.wav" "$work/f.wav")" -le 64 ] \
  || fail "batch item 2 (seed 42 + 1) differs from seed 43 alone by $(maxdiff "$work/e-2.wav" "$work/f.wav") LSB"
[ "$(maxdiff "$work/e-1.wav" "$work/f.wav")" -gt 1000 ] || fail "item 1 is close to seed 43"

# Bad input: exit 2 and one line naming what was wrong; nothing written.
expect_error() {
  local pattern="$1"; shift
  set +e; err=$("$@" 2>&1 >/dev/null); rc=$?; set -e
  [ "$rc" -eq 2 ] || fail "exit $rc (expected 2) for: $*"
  err=$(printf '%s\n' "$err" | grep -v ': warning: ' || true)
  [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "not one error line: $err"
  printf '%s' "$err" | grep -q "$pattern" || fail "error '$err' does not mention $pattern"
}
expect_error "no-such-folder" "$acefit" generate --checkpoints "$work/no-such-folder" --caption x --out "$work/x.wav"
bad() { "$acefit" generate --checkpoints "$work/ck" --caption "x" "$@"; }
expect_error "time signature" bad --timesignature 5 --out "$work/x.wav"
expect_error "keyscale" bad --keyscale "H major" --out "$work/x.wav"
expect_error "bpm" bad --bpm 500 --out "$work/x.wav"
expect_error ".aac" bad --out "$work/x.aac"
expect_error "batch" bad --batch 0 --out "$work/x.wav"
[ ! -e "$work/x.wav" ] || fail "a failed run left an output file"
echo "generate CLI: ok"
