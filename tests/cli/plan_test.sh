#!/usr/bin/env bash
# acefit plan and the memory fields of acefit generate, end to end: the full
# dims plan (no checkpoint) is fast and fits 3 minutes of DiT-only turbo on a
# simulated 4 GB card; the JSON keys; the planned peak of a real run equals
# its measured peak; the VRAM guard reduces a batch with the numbers; a
# budget nothing fits stops before any file is written.
# Usage: plan_test.sh ACEFIT WORKDIR (needs the Qwen3 tokenizer files, as
# generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
# The number after "key": in a JSON file (first match).
num() { grep -o "\"$2\": [0-9.e+-]*" "$1" | head -1 | sed 's/.*: //'; }

# config and plan agree on offload and quantization for the same run: on the
# CPU (no GPU tier, or a tier simulated by MAX_CUDA_VRAM) nothing is offloaded
# and nothing quantized by default; on the sim device the tier's defaults.
for setup in "ACEFIT_DEVICE=cpu" "ACEFIT_DEVICE=cpu MAX_CUDA_VRAM=8" "ACEFIT_DEVICE=sim MAX_CUDA_VRAM=8"; do
  config=$(env $setup "$acefit" config 2>&1) || fail "config failed ($setup): $config"
  plan=$(env $setup "$acefit" plan --preset tiny --duration 10 --json 2>&1) || fail "plan failed ($setup): $plan"
  c_off=$(printf '%s\n' "$config" | awk '$1 == "offload" {print $2}')
  p_off=$(printf '%s\n' "$plan" | grep -o '"offload": "[^"]*"' | head -1 | sed 's/.*: "//; s/"//')
  c_q=$(printf '%s\n' "$config" | awk '$1 == "quantization" {print $2}')
  p_q=$(printf '%s\n' "$plan" | grep -o '"quantization": "[^"]*"' | head -1 | sed 's/.*: "//; s/"//')
  [ "$c_q" = null ] && c_q=none
  [ -n "$c_off" ] && [ "$c_off" = "$p_off" ] || fail "$setup: config says offload '$c_off', plan '$p_off'"
  [ "$c_q" = "$p_q" ] || fail "$setup: config says quantization '$c_q', plan '$p_q'"
  case "$setup" in
    *cpu*) [ "$c_off $c_q" = "none none" ] || fail "$setup: the CPU got offload $c_off, quantization $c_q" ;;
    *sim*) [ "$c_off $c_q" = "cpu+dit int8" ] || fail "$setup: tier4 on sim got $c_off, $c_q" ;;
  esac
done

# Full dims, 180 s, simulated 4 GB card (tier1 defaults: offload cpu+dit, INT8).
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=4 "$acefit" plan --preset full --duration 180 --json \
  >"$work/full.json" 2>"$work/full.log" || fail "plan --preset full failed: $(cat "$work/full.log")"
for key in '"peak_device_bytes"' '"budget_bytes"' '"fits"' '"max_duration_s"' '"max_batch"' \
           '"stages"' '"by_tag"' '"device_bytes"' '"host_bytes"' '"weights"' '"activations"' \
           '"workspace"' '"kv_cache"' '"io"' '"vae"'; do
  grep -q "$key" "$work/full.json" || fail "plan --json lacks $key"
done
grep -q '"fits": true' "$work/full.json" || fail "3 min at full dims does not fit a 4 GB sim card"
[ "$(num "$work/full.json" budget_bytes)" = $((3584 * 1024 * 1024)) ] || fail "budget is not 3.5 GiB"
peak=$(num "$work/full.json" peak_device_bytes)
[ "$peak" -le $((3584 * 1024 * 1024)) ] || fail "peak $peak over the budget"
for stage in text_encoder condition_encoder dit vae_decode; do
  grep -q "\"name\": \"$stage\"" "$work/full.json" || fail "no stage $stage"
done

# The table form.
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=16 "$acefit" plan --preset full --duration 60 >"$work/t.txt" 2>&1 \
  || fail "plan table failed"
grep -q "peak .* budget .* headroom" "$work/t.txt" || fail "no peak/budget/headroom line"
grep -q "^  dit " "$work/t.txt" || fail "no dit row"

# A real run: planned peak == measured peak, VAE ladder and offload fields.
"$acefit" make-demo-checkpoints "$work/ck" --no-lm >/dev/null
ACEFIT_DEVICE=sim ACEFIT_SIM_VRAM_GB=0.25 "$acefit" generate --checkpoints "$work/ck" \
  --caption "soft synth pad" --duration 8 --offload cpu --out "$work/a.wav" --json \
  >"$work/a.json" 2>"$work/a.log" || fail "generate failed: $(cat "$work/a.log")"
for key in '"vae"' '"chunk"' '"level"' '"retries"' '"peak_device_bytes"' \
           '"planned_peak_device_bytes"' '"to_device_bytes"' '"offload"'; do
  grep -q "$key" "$work/a.json" || fail "generate --json lacks $key"
done
[ "$(num "$work/a.json" peak_device_bytes)" = "$(num "$work/a.json" planned_peak_device_bytes)" ] \
  || fail "measured peak $(num "$work/a.json" peak_device_bytes) != planned $(num "$work/a.json" planned_peak_device_bytes)"
[ "$(num "$work/a.json" to_device_bytes)" -gt 0 ] || fail "offload cpu copied nothing"

# The guard: a batch of 8 in a small budget shrinks, with the numbers (the
# VAE decodes on the host, so the batch-dependent stages make the peak).
cap=$(ACEFIT_DEVICE=sim ACEFIT_SIM_VRAM_GB=1 "$acefit" plan --checkpoints "$work/ck" --duration 8 \
        --batch 1 --offload none --vae-on-cpu --json | grep -o '"peak_device_bytes": [0-9]*' | head -1 | sed 's/.*: //')
gb=$(awk -v b="$cap" 'BEGIN {printf "%.6f", b * 1.5 / 1073741824}')
ACEFIT_DEVICE=sim ACEFIT_SIM_VRAM_GB="$gb" "$acefit" generate --checkpoints "$work/ck" \
  --caption "drums" --duration 8 --batch 8 --offload none --vae-on-cpu --tier unlimited --out "$work/g.wav" \
  >/dev/null 2>"$work/g.log" || fail "guarded generate failed: $(cat "$work/g.log")"
grep -q "VRAM guard: reducing batch from 8 to [1-7]: each item needs [0-9.]* [KMG]*i*B, [0-9.]* [KMG]*i*B free" "$work/g.log" \
  || fail "no guard warning: $(cat "$work/g.log")"
[ -f "$work/g-1.wav" ] || [ -f "$work/g.wav" ] || fail "guarded run wrote nothing"
[ ! -f "$work/g-8.wav" ] || fail "the batch was not reduced"

# Nothing fits: exit 1 before any work, a clear message, no file.
set +e
ACEFIT_DEVICE=sim ACEFIT_SIM_VRAM_GB=0.0001 "$acefit" generate --checkpoints "$work/ck" \
  --caption "x" --duration 8 --offload none --out "$work/n.wav" >/dev/null 2>"$work/n.log"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit $rc for a budget nothing fits"
grep -q "does not fit: .* needs .* the budget is" "$work/n.log" || fail "unclear: $(cat "$work/n.log")"
grep -q "offload cpu+dit" "$work/n.log" || fail "no advice: $(cat "$work/n.log")"
[ ! -e "$work/n.wav" ] || fail "a refused run wrote a file"
echo "plan CLI: ok"
