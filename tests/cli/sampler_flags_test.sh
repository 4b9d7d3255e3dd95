#!/usr/bin/env bash
# The sampler flags of acestep-model.md 18.3 and 18.4 on the demo turbo
# checkpoint: DCW on by default and recorded in generate --json, --dcw off
# gives other audio, zero strengths give the --dcw off audio bit for bit,
# --steps above 8 runs 8 with a warning, any shift > 0 without snapping,
# plan shares the flags, and bad values (DCW flags, --steps 0, a VAE chunk
# too small to tile, 18.6) are refused at parse time naming the flag.
# Usage: sampler_flags_test.sh ACEFIT WORKDIR (needs ACEFIT_QWEN3_TOKENIZER_DIR
# or the folder scripts/fetch-tokenizer fills, as generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$acefit" make-demo-checkpoints "$work/ck" --no-lm >/dev/null 2>&1
gen() { "$acefit" generate --checkpoints "$work/ck" --caption "warm piano" --duration 5 --seed 3 "$@"; }
flat() { tr -d ' \n' <"$1"; }

# Turbo default: DCW double 0.05 / 0.02, 8 steps at shift 3.
gen --out "$work/on.wav" --json >"$work/on.json" 2>"$work/on.log" || fail "default run: $(cat "$work/on.log")"
flat "$work/on.json" | grep -q '"dcw":{"enabled":true,"high_scaler":0.02,"mode":"double","scaler":0.05}' \
  || fail "settings.dcw of the default turbo run: $(grep -A5 '"dcw"' "$work/on.json")"
flat "$work/on.json" | grep -q '"steps":8,' || fail "default turbo steps are not 8"
flat "$work/on.json" | grep -q '"shift":3.0' || fail "default turbo shift is not 3"

# --dcw off: recorded, other audio; zero strengths: the --dcw off audio.
gen --out "$work/off.wav" --json --dcw off >"$work/off.json" 2>/dev/null
flat "$work/off.json" | grep -q '"dcw":{"enabled":false' || fail "--dcw off not recorded"
! cmp -s "$work/on.wav" "$work/off.wav" || fail "--dcw off gave the same audio as DCW on"
gen --out "$work/zero.wav" --dcw on --dcw-scaler 0 --dcw-high-scaler 0 >/dev/null 2>&1
cmp -s "$work/zero.wav" "$work/off.wav" || fail "DCW with zero strengths changed the audio"
gen --out "$work/pix.wav" --json --dcw-mode pix --dcw-scaler 0.1 >"$work/pix.json" 2>/dev/null
flat "$work/pix.json" | grep -q '"dcw":{"enabled":true,"high_scaler":0.02,"mode":"pix","scaler":0.1}' \
  || fail "--dcw-mode pix --dcw-scaler 0.1 not recorded"
! cmp -s "$work/pix.wav" "$work/on.wav" || fail "--dcw-mode pix gave the default audio"

# Turbo steps: 12 runs 8 with a warning; 5 steps at shift 2.5, not snapped.
gen --out "$work/s12.wav" --steps 12 >/dev/null 2>"$work/s12.log"
grep -q "warning: turbo models take at most 8 steps; --steps 12 runs 8" "$work/s12.log" \
  || fail "no clamp warning: $(cat "$work/s12.log")"
grep -q "diffusion .*step 8/8" "$work/s12.log" || fail "--steps 12 did not run 8 steps"
gen --out "$work/s5.wav" --steps 5 --shift 2.5 --json >"$work/s5.json" 2>"$work/s5.log"
flat "$work/s5.json" | grep -q '"steps":5,' || fail "--steps 5 did not run 5 steps"
flat "$work/s5.json" | grep -q '"shift":2.5' || fail "--shift 2.5 not kept"
! grep -qi "snap" "$work/s5.log" "$work/s5.json" || fail "the shift was snapped"

# plan takes the same flags.
"$acefit" plan --preset tiny --steps 3 --dcw off --dcw-mode low --json >"$work/plan.json" 2>&1 \
  || fail "plan with sampler flags: $(cat "$work/plan.json")"
flat "$work/plan.json" | grep -q '"steps":3' || fail "plan --steps 3: $(cat "$work/plan.json")"

# Bad values: exit 2 at parse time, one error line naming the flag.
expect() {
  local pattern="$1"; shift
  set +e; "$@" >/dev/null 2>"$work/err"; local rc=$?; set -e
  [ "$rc" -eq 2 ] || fail "exit $rc (expected 2) for: $* -- $(cat "$work/err")"
  grep -q -- "$pattern" "$work/err" || fail "'$(cat "$work/err")' does not mention $pattern"
  ! grep -q "^load " "$work/err" || fail "loaded before refusing: $*"
}
for v in yes 1 ON ""; do expect "--dcw: invalid value '$v'" gen --out "$work/x.wav" --dcw "$v"; done
for v in both haar Double ""; do expect "--dcw-mode: invalid value '$v'" gen --out "$work/x.wav" --dcw-mode "$v"; done
# Every bad value in the Release pass; a fixed sample under the sanitizers
# (ACEFIT_TEST_SWEEPS=sample, docs/TESTING.md), where each launch is slow.
bad_scalers='nan inf -inf 1.5 -2 1e999 0x1 abc ""'
[ "${ACEFIT_TEST_SWEEPS:-}" = sample ] && bad_scalers='nan 1e999 abc'
for flag in --dcw-scaler --dcw-high-scaler; do
  for v in $bad_scalers; do
    [ "$v" = '""' ] && v=""
    expect "$flag: invalid value '$v'" gen --out "$work/x.wav" "$flag" "$v"
    expect "$flag: invalid value '$v'" "$acefit" plan --preset tiny "$flag" "$v"
  done
done
for v in 0 -1; do expect "--steps: invalid value '$v'" gen --out "$work/x.wav" --steps "$v"; done
for v in 1 4 8; do expect "--vae-chunk: invalid value '$v'" gen --out "$work/x.wav" --vae-chunk "$v"; done
ACESTEP_VAE_DECODE_CHUNK_SIZE=8 "$acefit" config >"$work/env.txt" 2>&1 || fail "config with chunk 8 in the environment"
grep -q "Invalid ACESTEP_VAE_DECODE_CHUNK_SIZE value: 8" "$work/env.txt" || fail "chunk 8 in the environment not ignored"
# The smallest chunk that tiles (9: the overlap stops at 4) is planned.
"$acefit" plan --preset tiny --vae-chunk 9 --json >"$work/c9.json" 2>&1 || fail "--vae-chunk 9: $(cat "$work/c9.json")"
echo "sampler flags: ok"
