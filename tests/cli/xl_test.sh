#!/usr/bin/env bash
# The XL (4B) DiT models end to end (spec acestep-model.md 18.5):
# make-demo-checkpoints --preset xl-tiny writes acestep-v15-xl-turbo in the
# official layout (inspect checks every tensor against its config), generate
# runs it, --config-path / ACESTEP_CONFIG_PATH pick it beside a 2B DiT, an
# unknown folder is named, and plan --preset xl-full plans the real XL dims
# at 8-24 GB with DiT streaming below that.
# Usage: xl_test.sh ACEFIT WORKDIR (needs the Qwen3 tokenizer files, as
# generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { grep -o "\"$2\": *\"[^\"]*\"" "$1" | head -1 | sed 's/.*: *"//; s/"$//'; }

"$acefit" make-demo-checkpoints "$work/xl" --preset xl-tiny --no-lm >/dev/null 2>"$work/mk.log" \
  || fail "make-demo-checkpoints --preset xl-tiny: $(cat "$work/mk.log")"
[ -d "$work/xl/acestep-v15-xl-turbo" ] || fail "no acestep-v15-xl-turbo folder"
[ ! -d "$work/xl/acestep-v15-turbo" ] || fail "xl-tiny wrote a 2B DiT too"
for key in encoder_hidden_size encoder_intermediate_size encoder_num_attention_heads \
           encoder_num_key_value_heads; do
  grep -q "\"$key\"" "$work/xl/acestep-v15-xl-turbo/config.json" || fail "config.json lacks $key"
done
"$acefit" inspect "$work/xl" >"$work/inspect.txt" 2>&1 || fail "inspect: $(tail -5 "$work/inspect.txt")"

# Generate on the XL alone (the only DiT there).
"$acefit" generate --checkpoints "$work/xl" --caption "bright synth pop" --duration 5 \
  --seed 3 --out "$work/xl.wav" --json >"$work/xl.json" 2>"$work/xl.log" \
  || fail "generate on xl-tiny: $(tail -5 "$work/xl.log")"
[ "$(field "$work/xl.json" dit)" = acestep-v15-xl-turbo ] || fail "xl run used $(field "$work/xl.json" dit)"
[ "$(head -c4 "$work/xl.wav")" = RIFF ] || fail "xl.wav is not a WAV"
# A turbo model: DCW on by default (spec 18.4).
tr -d ' \n' <"$work/xl.json" | grep -q '"dcw":{"enabled":true' || fail "DCW is not on by default for the XL turbo"

# The three XL folders and no 2B DiT: the default is the turbo one, not
# the first by name (acestep-v15-xl-base); xl-sft is a base/SFT model.
cp -r "$work/xl" "$work/three"
for kind in sft base; do
  cp -r "$work/xl/acestep-v15-xl-turbo" "$work/three/acestep-v15-xl-$kind"
  sed -i 's/"is_turbo": true/"is_turbo": false/; s/"model_version": "xl_turbo"/"model_version": "xl_'$kind'"/' \
    "$work/three/acestep-v15-xl-$kind/config.json"
done
"$acefit" generate --checkpoints "$work/three" --caption "bright synth pop" --duration 5 --seed 3 \
  --out "$work/t.wav" --json >"$work/t.json" 2>"$work/t.log" || fail "three XL: $(tail -3 "$work/t.log")"
[ "$(field "$work/t.json" dit)" = acestep-v15-xl-turbo ] || fail "default among XL folders: $(field "$work/t.json" dit)"
"$acefit" generate --checkpoints "$work/three" --caption "bright synth pop" --duration 5 --seed 3 \
  --config-path acestep-v15-xl-sft --steps 2 --out "$work/s.wav" --json >"$work/s.json" 2>"$work/s.log" \
  || fail "xl-sft: $(tail -3 "$work/s.log")"
tr -d ' \n' <"$work/s.json" | grep -q '"dcw":{"enabled":false' || fail "DCW on for an SFT model"
tr -d ' \n' <"$work/s.json" | grep -q '"steps":2,' || fail "xl-sft did not take --steps 2"

# Beside a 2B DiT: the default is acestep-v15-turbo; --config-path and
# ACESTEP_CONFIG_PATH pick the XL; an unknown name is refused naming both.
"$acefit" make-demo-checkpoints "$work/both" --no-lm >/dev/null 2>&1
cp -r "$work/xl/acestep-v15-xl-turbo" "$work/both/"
gen() { "$acefit" generate --checkpoints "$work/both" --caption "bright synth pop" --duration 5 \
          --seed 3 --json "$@"; }
gen --out "$work/d.wav" >"$work/d.json" 2>"$work/d.log" || fail "default run: $(tail -3 "$work/d.log")"
[ "$(field "$work/d.json" dit)" = acestep-v15-turbo ] || fail "default picked $(field "$work/d.json" dit)"
gen --config-path acestep-v15-xl-turbo --out "$work/c.wav" >"$work/c.json" 2>"$work/c.log" \
  || fail "--config-path run: $(tail -3 "$work/c.log")"
[ "$(field "$work/c.json" dit)" = acestep-v15-xl-turbo ] || fail "--config-path picked $(field "$work/c.json" dit)"
cmp -s "$work/c.wav" "$work/xl.wav" || fail "the XL picked beside a 2B DiT sounds different"
cmp -s "$work/c.wav" "$work/d.wav" && fail "the XL and 2B runs are identical"
ACESTEP_CONFIG_PATH=acestep-v15-xl-turbo gen --out "$work/e.wav" >"$work/e.json" 2>"$work/e.log" \
  || fail "ACESTEP_CONFIG_PATH run: $(tail -3 "$work/e.log")"
[ "$(field "$work/e.json" dit)" = acestep-v15-xl-turbo ] || fail "ACESTEP_CONFIG_PATH picked $(field "$work/e.json" dit)"
if gen --config-path acestep-v15-xl-sft --out "$work/x.wav" >/dev/null 2>"$work/x.log"; then
  fail "a missing DiT folder was accepted"
fi
grep -q "acestep-v15-xl-sft" "$work/x.log" || fail "the missing folder is not named: $(cat "$work/x.log")"
[ ! -e "$work/x.wav" ] || fail "a failed run wrote a file"

# The real XL dims, planned: the DiT weights and a fit at 8-24 GB; below
# that the guard streams the DiT's layers.
for gb in 8 12 16 20 24; do
  ACEFIT_DEVICE=sim MAX_CUDA_VRAM=$gb "$acefit" plan --preset xl-full --json \
    >"$work/p$gb.json" 2>"$work/p$gb.log" || fail "plan xl-full at $gb GB: $(cat "$work/p$gb.log")"
  grep -q '"fits": true' "$work/p$gb.json" || fail "30 s of XL does not fit $gb GB"
  [ "$(field "$work/p$gb.json" dit)" = acestep-v15-xl-turbo ] || fail "plan at $gb GB is not the XL"
done
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=3 "$acefit" plan --preset xl-full --json >"$work/p3.json" 2>/dev/null \
  || true
grep -q '"dit_stream_window": [1-9]' "$work/p3.json" || fail "3 GB: the guard does not stream the XL DiT"
if "$acefit" plan --preset xl >/dev/null 2>"$work/bad.log"; then fail "--preset xl was accepted"; fi
grep -q "xl-full" "$work/bad.log" || fail "the preset error does not list the presets"
echo "xl_test: ok"
