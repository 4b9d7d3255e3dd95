#!/usr/bin/env bash
# The 5 Hz LM from the command line (docs/LM.md): generate --thinking on the
# tiny demo checkpoints writes CoT metadata and exactly duration x 5 codes
# that drive the DiT (cpu, a simulated 8 GB card at tier4's batch, and the
# vulkan device when there is one); --cot fills metadata only; given
# metadata skips the CoT; plan --thinking shows the LM stage for every LM
# size and backend; bad LM flags and an LM the tier cannot hold are refused
# before any work.
# Usage: lm_test.sh ACEFIT WORKDIR (needs the Qwen3 tokenizer files, as
# generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
unset ACEFIT_DEVICE ACESTEP_DEVICE MAX_CUDA_VRAM

"$acefit" make-demo-checkpoints "$work/ckpt" >/dev/null 2>"$work/mk.log" \
  || fail "make-demo-checkpoints: $(cat "$work/mk.log")"
ckpt="$work/ckpt"
gen() {  # gen NAME [args...]
  local name="$1"; shift
  "$acefit" generate --checkpoints "$ckpt" --caption "warm synth pads" --lyrics "[verse] la la" \
    --seed 5 --lm-top-p 1 --out "$work/$name.wav" --json "$@" >"$work/$name.json" 2>"$work/$name.log"
}
check() {  # check NAME python-assertions (d = the JSON)
  python3 - "$work/$1.json" "$2" <<'PY' || fail "$1: $(tail -3 "${1}.log" 2>/dev/null)"
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
PY
}

# --thinking on the CPU: CoT, then 50 codes per item, the DiT's cover context.
gen think --thinking --duration 10 --batch 2 || fail "generate --thinking: $(tail -5 "$work/think.log")"
check think '
lm = d["lm"]
assert lm["cot_ran"] and lm["codes"] == 50, lm
assert [p["name"] for p in lm["phases"]] == ["cot", "codes"], lm["phases"]
assert lm["phases"][1]["new_tokens"] == 51 and lm["phases"][1]["sequences"] == 4, lm["phases"]
cot = lm["cot"]
assert 30 <= cot["bpm"] <= 300 and cot["duration"] == 10, cot
assert cot["keyscale"] and cot["language"] and cot["timesignature"] in ("2", "3", "4", "6"), cot
m = d["metadata"]
assert m["bpm"] == cot["bpm"] and m["keyscale"] == cot["keyscale"], m
assert d["duration_s"] == 10.0 and len(d["outputs"]) == 2, d["duration_s"]
assert d["peak_device_bytes"] == d["planned_peak_device_bytes"]
names = [s["name"] for s in d["stages"]]
assert names[:2] == ["lm", "detokenizer"], names
assert d["timings"]["lm_s"] > 0
'
grep -q "LM acestep-5Hz-lm-0.6B" "$work/think.log" && fail "--json printed the text summary"
gen think_text --thinking --duration 10 --no-cot-caption
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lm"]["cot"]["caption"])' "$work/think_text.json")" = None ] \
  || fail "--no-cot-caption still wrote a caption"

# --cot: metadata only, no codes, no detokenizer; the user's bpm is kept.
gen cot --cot --duration 10 --bpm 77 --no-cot-caption || fail "generate --cot: $(tail -5 "$work/cot.log")"
check cot '
lm = d["lm"]
assert lm["cot_ran"] and lm["codes"] == 0, lm
assert lm["cot"]["bpm"] == 77 and d["metadata"]["bpm"] == 77, lm["cot"]
assert "detokenizer" not in [s["name"] for s in d["stages"]]
'
# All four of bpm, key, time signature and duration given: no CoT phase.
gen given --thinking --duration 10 --bpm 100 --keyscale "A minor" --timesignature 3/4 \
  || fail "generate --thinking with metadata: $(tail -5 "$work/given.log")"
check given '
lm = d["lm"]
assert not lm["cot_ran"] and lm["codes"] == 50 and len(lm["phases"]) == 1, lm
assert d["metadata"]["timesignature"] == "3/4"
'

# A simulated 8 GB card (tier4): the 0.6B LM with the tier's batch (2 with
# the LM) stays within its cap, and the plan at the shipped dims fits too.
export ACEFIT_DEVICE=sim MAX_CUDA_VRAM=8
gen sim8 --thinking --duration 10 --batch 2 || fail "sim 8 GB --thinking: $(tail -5 "$work/sim8.log")"
check sim8 '
assert d["settings"]["tier"] == "tier4" and d["settings"]["batch"] == 2, d["settings"]
assert d["lm"]["model"] == "acestep-5Hz-lm-0.6B", d["lm"]["model"]
assert d["peak_device_bytes"] <= d["budget_bytes"]
assert d["peak_device_bytes"] == d["planned_peak_device_bytes"]
'
"$acefit" plan --preset full --thinking --duration 240 --batch 2 --json >"$work/plan.json" \
  2>"$work/plan.log" || fail "plan --preset full --thinking: $(tail -5 "$work/plan.log")"
check plan '
assert d["fits"] and d["peak_device_bytes"] <= d["budget_bytes"], d["peak_device_bytes"]
assert d["guard"]["batch"] == 2, d["guard"]
assert d["stages"][0]["name"] == "lm" and d["stages"][0]["by_tag"]["kv_cache"] > 0
assert d["lm"]["model"] == "acestep-5Hz-lm-0.6B" and d["lm"]["backend"] == "vllm", d["lm"]
rows = {(r["size"], r["backend"]): r for r in d["lm_options"]}
assert set(rows) == {(s, b) for s in ("0.6B", "1.7B", "4B") for b in ("vllm", "pt")}, rows
for s in ("0.6B", "1.7B", "4B"):
    assert rows[(s, "vllm")]["kv_bytes"] >= rows[(s, "pt")]["kv_bytes"] > 0
assert rows[("0.6B", "pt")]["weight_bytes"] < rows[("1.7B", "pt")]["weight_bytes"] < rows[("4B", "pt")]["weight_bytes"]
'
"$acefit" plan --preset full --thinking --duration 240 >"$work/plan.txt" 2>&1 \
  || fail "plan (text): $(tail -3 "$work/plan.txt")"
grep -q "LM stage by model and backend" "$work/plan.txt" || fail "plan text lacks the LM table"

# tier2 (4 GB) fits no LM: refused with what to do; --force runs it.
export MAX_CUDA_VRAM=4
set +e
gen tier2 --thinking --duration 10; code=$?
set -e
[ "$code" = 2 ] || fail "--thinking on tier2 exited $code, expected 2"
grep -q -- "--force" "$work/tier2.log" || fail "tier2 refusal does not mention --force"
gen tier2_forced --thinking --duration 10 --init-llm true --force \
  || fail "--force on tier2: $(tail -5 "$work/tier2_forced.log")"
check tier2_forced 'assert d["lm"]["codes"] == 50'
unset ACEFIT_DEVICE MAX_CUDA_VRAM

# Bad LM flags: exit 2 naming the flag, before anything is loaded.
bad() {  # bad FLAG VALUE
  set +e
  "$acefit" generate --checkpoints "$ckpt" --caption x --out "$work/bad.wav" --thinking "$1" "$2" \
    >/dev/null 2>"$work/bad.log"
  local code=$?
  set -e
  [ "$code" = 2 ] || fail "$1 $2 exited $code"
  grep -q -- "$1" "$work/bad.log" || fail "$1 $2: the error does not name the flag: $(cat "$work/bad.log")"
}
bad --lm-top-p 0
bad --lm-top-p 1.5
bad --lm-temperature nan
bad --lm-temperature -1
bad --lm-cfg-scale inf
bad --lm-top-k -3
bad --lm-repetition-penalty 0
set +e
"$acefit" generate --checkpoints "$ckpt" --caption x --out "$work/bad.wav" --thinking \
  --audio-codes "1,2,3" >/dev/null 2>"$work/both.log"; code=$?
set -e
[ "$code" = 2 ] || fail "--thinking with --audio-codes exited $code"
[ ! -e "$work/bad.wav" ] || fail "a refused run wrote output"

# On the vulkan device (lavapipe here) when there is one.
if "$acefit" devices --json 2>/dev/null | grep -q '"vulkan:'; then
  device=$("$acefit" devices --json 2>/dev/null | python3 -c '
import json, sys
ds = json.load(sys.stdin).get("vulkan_devices", [])
usable = [d for d in ds if d.get("usable", True)]
print(usable[0]["name"] if usable else "")')
  if [ -n "$device" ]; then
    gen vulkan --thinking --no-cot-caption --duration 10 --device "$device" --tier tier5 \
      || fail "--thinking on $device: $(tail -5 "$work/vulkan.log")"
    check vulkan '
assert d["lm"]["cot_ran"] and d["lm"]["codes"] == 50, d["lm"]
assert d["peak_device_bytes"] == d["planned_peak_device_bytes"]
'
  fi
fi
echo "lm_test: ok"
