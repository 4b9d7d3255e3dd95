#!/usr/bin/env bash
# acefit profile (docs/PROFILING.md): the planned tier-test at the shipped
# dims prints upstream's three tables and writes its run records; both
# engines on the tiny demo checkpoints agree on every peak (sim device);
# derive writes a tier table that check-gpu --tier-table reads; check-gpu
# --derived; profile and benchmark time real runs; nonsense is refused
# before any work.
# Usage: profile_test.sh ACEFIT WORKDIR (needs the Qwen3 tokenizer files).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
unset ACEFIT_DEVICE ACESTEP_DEVICE MAX_CUDA_VRAM ACESTEP_CONFIG_PATH ACESTEP_LM_MODEL_PATH
cd "$work"  # no .env of the source tree

json_check() {  # json_check FILE python-assertions (d = the JSON)
  python3 - "$1" "$2" <<'PY' || fail "$1"
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}

# 1. Planned tier-test at the shipped dims: three tables, every run, records.
"$acefit" profile --mode tier-test --tier-boundary --tier-batch-boundary --engine planned \
  --preset full --benchmark-output "$work/tiers.json" >"$work/tiers.txt" 2>"$work/tiers.log" \
  || fail "planned tier-test: $(tail -3 "$work/tiers.log")"
for title in "TIER TEST SUMMARY" "BOUNDARY ANALYSIS" "BATCH BOUNDARY ANALYSIS" \
  "Comparison with current GPU_TIER_CONFIGS" "No INT8 Quantization"; do
  grep -q "$title" "$work/tiers.txt" || fail "planned tier-test lacks '$title'"
done
total=$(grep -E "Total: [0-9]+ tests run" "$work/tiers.txt") || fail "no totals line"
grep -q "\[1/" "$work/tiers.log" || fail "no progress on stderr"
json_check "$work/tiers.json" '
keys = ["tier_gb", "tier", "test_variant", "use_lm", "lm_model", "lm_backend", "offload",
        "offload_dit", "quantization", "duration", "batch_size", "init_success", "gen_success",
        "wall_time", "error", "peak_vram_gb"]
assert len(d) > 20, len(d)
assert list(d[0].keys())[:len(keys)] == keys, list(d[0].keys())
assert {r["tier_gb"] for r in d} == {4, 6, 8, 12, 16, 20, 24}
assert all(r["engine"] == "planned" for r in d)
assert d[0]["quantization"] == "int8_weight_only" and d[0]["offload_dit"] is True
variants = {r["test_variant"] for r in d}
assert {"default", "no-quant", "no-offload", "batch-noLM-1", "batch-LM-8"} <= variants, variants
lm = [r for r in d if r["test_variant"] == "batch-LM-1" and r["tier_gb"] == 24][0]
assert lm["use_lm"] and lm["lm_model"] == "acestep-5Hz-lm-4B", lm
'
n=$(python3 -c "import json; print(len(json.load(open('$work/tiers.json'))))")
echo "$total" | grep -q "Total: $n tests run" || fail "totals '$total' != $n records"

# 2. Both engines on the tiny checkpoints (sim device): planned == measured.
"$acefit" make-demo-checkpoints "$work/ckpt" >/dev/null 2>"$work/mk.log" \
  || fail "make-demo-checkpoints: $(cat "$work/mk.log")"
ACEFIT_DEVICE=sim "$acefit" profile --mode tier-test --checkpoints "$work/ckpt" --tiers 4 8 \
  --tier-with-lm --tier-duration 10 --inference-steps 2 --tier-boundary \
  --benchmark-output "$work/both.json" >"$work/both.txt" 2>"$work/both.log" \
  || fail "tier-test --engine both: $(tail -3 "$work/both.log")"
grep -q "Plan(GB)" "$work/both.txt" || fail "no Plan(GB) column with both engines"
grep -q "Planned vs measured peak: 0 of 5 rows differ" "$work/both.txt" \
  || fail "planned != measured: $(grep -E 'differ|≠' "$work/both.txt")"
json_check "$work/both.json" '
assert len(d) == 5, len(d)
for r in d:
    assert r["engine"] == "both" and r["gen_success"], r
    assert r["planned_peak_vram_gb"] == r["measured_peak_vram_gb"] > 0, r
    assert r["planned_matches"] is True and r["dit_time"] > 0 and r["vae_time"] > 0, r
assert [r["use_lm"] for r in d] == [False, False, True, True, True], d
'

# 3. derive: limits per size and a tier table that --tier-table reads.
"$acefit" profile --mode derive --preset full --memory-gib 4,8 --output "$work/derived.json" \
  >"$work/derive.txt" 2>"$work/derive.log" || fail "derive: $(tail -3 "$work/derive.log")"
grep -q "offload none, no INT8 .* GiB" "$work/derive.txt" || fail "derive: no thresholds"
grep -qE "^  8GB +offload none, no INT8" "$work/derive.txt" || fail "derive: no 8 GB row"
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=8 "$acefit" check-gpu --tier-table "$work/derived.json" \
  >"$work/derived-check.txt" 2>&1 || fail "check-gpu --tier-table derived: $(tail -3 "$work/derived-check.txt")"
grep -qE "^  derived[0-9]+ \(from [0-9.]+ GB: offload none, no INT8\), GPU memory 8 GiB" \
  "$work/derived-check.txt" || fail "check-gpu did not take the derived tier: $(grep -A1 '^Tier' "$work/derived-check.txt")"

# 4. check-gpu --derived: one tier from the plans for this budget.
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=12 "$acefit" check-gpu --derived >"$work/check-derived.txt" 2>&1 \
  || fail "check-gpu --derived: $(tail -3 "$work/check-derived.txt")"
grep -q "derived for 11.5 GiB of budget" "$work/check-derived.txt" || fail "check-gpu --derived"
grep -q "recommended: 4B" "$work/check-derived.txt" || fail "--derived: the 4B LM fits 11.5 GiB"

# 5. profile and benchmark time real runs.
ACEFIT_DEVICE=sim "$acefit" profile --mode profile --checkpoints "$work/ckpt" --duration 10 \
  --inference-steps 2 --no-warmup >"$work/profile.txt" 2>"$work/profile.log" \
  || fail "profile: $(tail -3 "$work/profile.log")"
grep -q "^Insight: " "$work/profile.txt" || fail "profile: no insight"
grep -q "wall total" "$work/profile.txt" || fail "profile: no breakdown"
ACEFIT_DEVICE=sim "$acefit" profile --mode benchmark --checkpoints "$work/ckpt" --duration 10 \
  --batch-size 1 --inference-steps 2 --no-warmup --benchmark-output "$work/bench.json" \
  >"$work/bench.txt" 2>"$work/bench.log" || fail "benchmark: $(tail -3 "$work/bench.log")"
json_check "$work/bench.json" '
assert [r["config"]["thinking"] for r in d] == [False, True], d
for r in d:
    assert r["success"] and r["n_audios"] == 1 and r["wall_time"] > 0, r
    assert set(r["config"]) == {"duration", "batch_size", "thinking", "inference_steps"}, r
assert d[1]["lm_time"] > 0 and d[0]["lm_time"] == 0
'

# 6. Nonsense is refused with exit 2, naming what was wrong.
refuse() {  # refuse TEXT args...
  local text="$1"; shift
  set +e
  "$acefit" profile "$@" >"$work/refused.txt" 2>&1
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "profile $* exited $rc, expected 2: $(cat "$work/refused.txt")"
  grep -q -- "$text" "$work/refused.txt" || fail "profile $*: no '$text' in $(cat "$work/refused.txt")"
}
refuse "--mode must be" --mode bogus --preset full
refuse "understand" --mode understand --preset full
refuse "needs --checkpoints" --mode tier-test --engine measured --preset full
refuse "--engine must be" --mode tier-test --engine fast --preset full
refuse "exactly one of" --mode tier-test
refuse "exactly one of" --mode tier-test --preset full --checkpoints "$work/ckpt"
refuse "--tiers" --mode tier-test --preset full --tiers 0
refuse "--tiers" --mode tier-test --preset full --tiers nan
refuse "--memory-gib" --mode derive --preset full --memory-gib 9..2
refuse "--memory-gib" --mode derive --preset full --memory-gib 4,x
refuse "--quantization" --mode profile --checkpoints "$work/ckpt" --quantization fp8_weight_only
refuse "--preset must be" --mode tier-test --preset huge
refuse "--tier-duration" --mode tier-test --preset full --tier-duration 5
# An output that cannot be written: the run fails (exit 1) and says where.
set +e
"$acefit" profile --mode derive --preset full --memory-gib 8 --output /proc/nope/t.json \
  >"$work/unwritable.txt" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "unwritable --output exited $rc"
grep -q "/proc/nope" "$work/unwritable.txt" || fail "unwritable --output not named"
echo "profile CLI: ok"
