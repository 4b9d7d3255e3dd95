#!/usr/bin/env bash
# Tokenizer post-processing and prompt details (acestep-model.md 18.1, 18.2),
# end to end: make-demo-checkpoints writes the text encoder's tokenizer.json
# with Qwen3-Embedding's post_processor and the LM's without; acefit tokenize
# adds its <|endoftext|> by default and not with --no-special-tokens;
# generate --instrumental is the same run as --lyrics "[Instrumental]" and
# another than no lyrics; a time signature is written as given ("3/4" and
# "3" are different prompts); --instrumental with lyrics is exit 2.
# Usage: prompt_test.sh ACEFIT WORKDIR (needs the Qwen3 tokenizer files, as
# generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$acefit" make-demo-checkpoints "$work/ck" >/dev/null 2>&1 || fail "make-demo-checkpoints failed"
text="$work/ck/Qwen3-Embedding-0.6B"
lm="$work/ck/acestep-5Hz-lm-0.6B"
grep -q '"TemplateProcessing"' "$text/tokenizer.json" || fail "the text encoder's tokenizer.json has no template"
! grep -q '"TemplateProcessing"' "$lm/tokenizer.json" || fail "the LM's tokenizer.json has a template"

out=$("$acefit" tokenize --tokenizer "$text" 'Hello world')
[ "$out" = "9707 1879 151643" ] || fail "text encoder tokenize gave '$out'"
out=$("$acefit" tokenize --tokenizer "$text" --no-special-tokens 'Hello world')
[ "$out" = "9707 1879" ] || fail "tokenize --no-special-tokens gave '$out'"
out=$("$acefit" tokenize --tokenizer "$lm" --json 'Hello world')
[ "$out" = "[9707,1879]" ] || fail "LM tokenize gave '$out'"

caption="warm lo-fi piano"
gen() { "$acefit" generate --checkpoints "$work/ck" --caption "$caption" --duration 1 \
          --seed 5 "$@" >/dev/null 2>"$work/log" || fail "generate $* failed: $(cat "$work/log")"; }
gen --instrumental --timesignature 3/4 --out "$work/a.wav"
gen --lyrics "[Instrumental]" --timesignature 3/4 --out "$work/b.wav"
cmp -s "$work/a.wav" "$work/b.wav" || fail "--instrumental is not --lyrics [Instrumental]"
gen --timesignature 3/4 --out "$work/c.wav"
! cmp -s "$work/a.wav" "$work/c.wav" || fail "no lyrics gave the [Instrumental] prompt"
gen --lyrics "[Instrumental]" --timesignature 3 --out "$work/d.wav"
! cmp -s "$work/b.wav" "$work/d.wav" || fail "time signature 3/4 was written as 3"

# A caption past 256 tokens: the warning counts the added <|endoftext|>.
caption=$(printf 'guitar %.0s' $(seq 300))
gen --out "$work/e.wav"
grep -q "the caption prompt has 3[0-9][0-9] tokens; only 256 are used (its first 255 text tokens and the 1 special token(s) the tokenizer adds)" "$work/log" \
  || fail "no truncation warning with the special token: $(grep -i caption "$work/log")"

for command in generate plan; do
  set +e
  extra=(); [ "$command" = generate ] && extra=(--out "$work/x.wav")
  err=$("$acefit" $command --checkpoints "$work/ck" --caption x --instrumental --lyrics "la la" \
          "${extra[@]}" 2>&1 >/dev/null)
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$command --instrumental --lyrics: exit $rc"
  [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "$command: not one error line: $err"
  printf '%s' "$err" | grep -q -- "--instrumental" || fail "$command: error '$err' does not name --instrumental"
done
[ ! -e "$work/x.wav" ] || fail "a refused run wrote a file"
echo "prompt CLI: ok"
