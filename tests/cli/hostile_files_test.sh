#!/usr/bin/env bash
# Hostile files given to the CLI (issue 12): a config.json or tier table
# nested a million levels deep is one clean error line, not a crash; a FIFO,
# a device or a directory where a file is expected is refused at once (the
# commands run under `timeout`, so a blocking read fails the test).
# Usage: hostile_files_test.sh ACEFIT WORKDIR
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs the command with a 20 s limit; sets rc and err (stderr).
run() {
  set +e
  err=$(timeout 20 "$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  [ "$rc" -ne 124 ] || fail "$* blocked (timed out)"
  [ "$rc" -lt 128 ] || fail "$* crashed (exit $rc): $err"
}
deep() {  # {"$1": $2 levels of [ and ]}: a key whose type error shows the value
  python3 -c "import sys; n=int(sys.argv[2]); sys.stdout.write('{\"' + sys.argv[1] + '\": ' + '['*n + ']'*n + '}')" "$1" "$2"
}

# acefit inspect of a folder whose config.json is deep.
"$acefit" synth-checkpoints --no-lm --no-text-encoder "$work/ckpt" >/dev/null
deep hidden_size 1000000 >"$work/ckpt/acestep-v15-turbo/config.json"
run "$acefit" inspect --summary "$work/ckpt"
[ "$rc" -ne 0 ] || fail "inspect accepted a config nested 10^6 deep"
printf '%s' "$err" | grep -q "config.json" || fail "inspect did not name config.json: $err"
printf '%s' "$err" | grep -q "nests deeper than the limit" || fail "no depth message: $err"

# A config.json that is a FIFO.
rm "$work/ckpt/acestep-v15-turbo/config.json"
mkfifo "$work/ckpt/acestep-v15-turbo/config.json"
run "$acefit" inspect --summary "$work/ckpt"
[ "$rc" -ne 0 ] || fail "inspect accepted a FIFO config.json"
printf '%s' "$err" | grep -q "is not a regular file (a FIFO)" || fail "FIFO config: $err"

# acefit config --tier-table: deep, a FIFO, a directory, /dev/zero.
deep format 1000000 >"$work/deep.json"
run "$acefit" config --tier-table "$work/deep.json"
[ "$rc" -eq 2 ] || fail "config --tier-table deep.json: exit $rc, not 2: $err"
printf '%s' "$err" | grep -q "nests deeper than the limit" || fail "deep tier table: $err"
mkfifo "$work/tiers.fifo"
for bad in "$work/tiers.fifo" "$work" /dev/zero; do
  run "$acefit" config --tier-table "$bad"
  [ "$rc" -eq 2 ] || fail "config --tier-table $bad: exit $rc, not 2: $err"
  printf '%s' "$err" | grep -q "is not a regular file" || fail "tier table $bad: $err"
done

# acefit tokenize --file: /dev/zero, a FIFO and a directory are refused
# before the tokenizer loads (any --tokenizer folder will do).
mkfifo "$work/text.fifo"
for bad in /dev/zero "$work/text.fifo" "$work"; do
  run "$acefit" tokenize --tokenizer "$work/no-tokenizer" --file "$bad"
  [ "$rc" -eq 2 ] || fail "tokenize --file $bad: exit $rc, not 2: $err"
  printf '%s' "$err" | grep -q "is not a regular file" || fail "tokenize --file $bad: $err"
done
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$work/big.txt"
run "$acefit" tokenize --tokenizer "$work/no-tokenizer" --file "$work/big.txt"
[ "$rc" -eq 2 ] || fail "tokenize --file big.txt: exit $rc, not 2"
printf '%s' "$err" | grep -q "is larger than the 16 MiB" || fail "tokenize --file big.txt: $err"
echo "hostile files: ok"
