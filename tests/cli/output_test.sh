#!/usr/bin/env bash
# Output that is never lost or destroyed (docs/AUDIO.md): acefit generate
# checks the destination before any work (missing folder, a folder as the
# name, read-only folder, too little space, --no-overwrite), writes devices,
# FIFOs and stdout as streams without replacing them, leaves no temp file
# when killed by SIGTERM, and removes a dead writer's stale temp file;
# make-demo-checkpoints refuses bad targets and never leaves a half-made
# folder. The generation runs go in parallel to keep the test short.
# Usage: output_test.sh ACEFIT WORKDIR (needs ACEFIT_QWEN3_TOKENIZER_DIR or
# the folder scripts/fetch-tokenizer fills).
set -euo pipefail
acefit="$1"
work="$2"
mounts=()
cleanup() { for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
for m in "$work"/ro "$work"/small; do umount -l "$m" 2>/dev/null || true; done
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
u32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }
wav_ok() {  # FILE: a 10 s 48 kHz stereo 16-bit WAV, exactly sized
  [ "$(head -c4 "$1")" = "RIFF" ] || fail "$1 is not RIFF"
  [ "$(u32 "$1" 40)" = $((480000 * 4)) ] || fail "$1 data is not 10 s"
  [ "$(stat -c %s "$1")" = $((44 + 480000 * 4)) ] || fail "$1 has $(stat -c %s "$1") bytes"
}
temps() { find "$1" -maxdepth 1 -name '.*acefit-tmp-*' | sort; }
# exit status, one error line naming PATTERN, nothing loaded (no progress).
expect_refusal() {
  local code="$1" pattern="$2"; shift 2
  set +e; err=$("$@" 2>&1 >/dev/null); rc=$?; set -e
  [ "$rc" -eq "$code" ] || fail "exit $rc (expected $code) for: $* ($err)"
  err=$(printf '%s\n' "$err" | grep -v ': warning: ' || true)
  [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "not one error line: $err"
  printf '%s' "$err" | grep -q -- "$pattern" || fail "error '$err' does not mention $pattern"
}

# ---- make-demo-checkpoints -------------------------------------------------
synth() { "$acefit" make-demo-checkpoints "$@" --no-lm; }
expect_refusal 2 "names no folder" synth ""
mkdir "$work/full" && echo mine >"$work/full/keep.txt"
expect_refusal 2 "not empty" synth "$work/full"
[ "$(ls -A "$work/full")" = keep.txt ] || fail "a refused folder was changed"
mkdir "$work/tok"
expect_refusal 2 "tokenizer.json" synth "$work/badtok" --tokenizer "$work/tok"
[ ! -e "$work/badtok" ] && [ -z "$(temps "$work")" ] || fail "bad tokenizer dir: something was written"
set +e; ACEFIT_TEST_FAIL_BEFORE_COMMIT=1 synth "$work/failed" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "a failure mid-way exited $rc"
[ ! -e "$work/failed" ] && [ -z "$(temps "$work")" ] || fail "a failure mid-way left a folder"
set +e; ACEFIT_TEST_SIGNAL_BEFORE_COMMIT=1 synth "$work/killed" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 143 ] || fail "SIGTERM during make-demo-checkpoints exited $rc"
[ ! -e "$work/killed" ] && [ -z "$(temps "$work")" ] || fail "SIGTERM left a half-made folder"
# A half-made folder of a dead process is removed by the next run there.
dead_pid=$(sh -c 'echo $$')
mkdir "$work/.full.acefit-tmp-$dead_pid" && echo half >"$work/.full.acefit-tmp-$dead_pid/x"
synth "$work/full" --force >/dev/null 2>&1 || fail "--force did not replace a folder"
[ ! -e "$work/.full.acefit-tmp-$dead_pid" ] || fail "a dead run's temp folder was kept"
[ ! -e "$work/full/keep.txt" ] && [ -f "$work/full/vae/config.json" ] || fail "--force result"
[ -z "$(temps "$work")" ] || fail "--force left a temp folder"
ck="$work/full"

# ---- generate: refused before any work -------------------------------------
gen() { "$acefit" generate --checkpoints "$ck" --caption "warm lo-fi piano" --duration 10 "$@"; }
expect_refusal 2 "no-such-folder" gen --out "$work/no-such-folder/a.wav"
mkdir "$work/adir.wav"
expect_refusal 2 "is a folder" gen --out "$work/adir.wav"
echo old >"$work/old-1.wav"
mkdir "$work/old-2.wav"
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=24 expect_refusal 2 "old-2.wav" gen --batch 2 --out "$work/old.wav"
[ "$(cat "$work/old-1.wav")" = old ] || fail "a refused batch changed item 1"
echo old >"$work/kept.wav"
expect_refusal 2 "no-overwrite" gen --no-overwrite --out "$work/kept.wav"
[ "$(cat "$work/kept.wav")" = old ] || fail "--no-overwrite changed the file"
expect_refusal 2 "socket" gen --format wav --out "$(python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); print(sys.argv[1])' "$work/sock")"
ACEFIT_DEVICE=sim MAX_CUDA_VRAM=24 expect_refusal 2 "batch" gen --batch 2 --format wav --out /dev/null
mkdir -p "$work/ro" "$work/small"
if mount -t tmpfs -o ro,size=64k tmpfs "$work/ro" 2>/dev/null; then
  mounts+=("$work/ro")
  expect_refusal 2 "not writable" gen --out "$work/ro/a.wav"
elif [ "$(id -u)" != 0 ]; then
  chmod 0555 "$work/ro"
  expect_refusal 2 "not writable" gen --out "$work/ro/a.wav"
  chmod 0755 "$work/ro"
else
  echo "skip: read-only folder (root without mount)"
fi
if mount -t tmpfs -o size=64k tmpfs "$work/small" 2>/dev/null; then
  mounts+=("$work/small")
  expect_refusal 2 "bytes free" gen --out "$work/small/a.wav"
  [ -z "$(ls -A "$work/small")" ] || fail "a refused run wrote into the small folder"
else
  echo "skip: too little space (no tmpfs mount; AudioIo.OutputPlanRefusesBadDestinationsBeforeAnyWork covers it)"
fi

# ---- generate: streams, SIGTERM and stale temps (in parallel) --------------
mkfifo "$work/fifo"
cat "$work/fifo" >"$work/from-fifo.wav" &
reader=$!
gen --format wav --out "$work/fifo" >"$work/fifo.out" 2>"$work/fifo.err" &
p_fifo=$!
gen --format wav --out /dev/null --json >"$work/null.json" 2>"$work/null.err" &
p_null=$!
gen --format wav --out /dev/stdout --json 2>"$work/stdout.err" | cat >"$work/from-stdout.wav" &
p_stdout=$!
mkdir "$work/sig"
dead=$(sh -c 'echo $$')
live=$$
dead_temp="$work/sig/.acefit-tmp-$dead-a.wav-0123456789abcdef"
live_temp="$work/sig/.acefit-tmp-$live-b.wav-0123456789abcdef"
echo half >"$dead_temp" && echo half >"$live_temp"
touch -d '1 hour ago' "$dead_temp" "$live_temp"
set +e
ACEFIT_TEST_SIGNAL_BEFORE_COMMIT=1 gen --out "$work/sig/x.wav" >/dev/null 2>"$work/sig.err"
rc_sig=$?
wait $p_fifo; rc_fifo=$?
[ -p "$work/fifo" ] || { kill $reader; fail "the FIFO was replaced by a regular file"; }
wait $reader
wait $p_null; rc_null=$?
wait $p_stdout; rc_stdout=$?
set -e

[ "$rc_sig" -eq 143 ] || fail "the SIGTERM run exited $rc_sig: $(tail -3 "$work/sig.err")"
[ "$(temps "$work/sig")" = "$live_temp" ] || fail "temps after SIGTERM: $(temps "$work/sig")"
[ ! -e "$work/sig/x.wav" ] || fail "SIGTERM before the rename still wrote x.wav"

[ "$rc_fifo" -eq 0 ] || fail "FIFO run exited $rc_fifo: $(tail -3 "$work/fifo.err")"
wav_ok "$work/from-fifo.wav"
[ "$(cat "$work/fifo.out")" = "$work/fifo" ] || fail "FIFO run report: $(cat "$work/fifo.out")"

[ "$rc_null" -eq 0 ] || fail "/dev/null run exited $rc_null: $(tail -3 "$work/null.err")"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"
grep -q '"/dev/null"' "$work/null.json" || fail "--json outputs lack /dev/null"

[ "$rc_stdout" -eq 0 ] || fail "/dev/stdout run exited $rc_stdout: $(tail -3 "$work/stdout.err")"
wav_ok "$work/from-stdout.wav"  # the report is not mixed into the audio ...
grep -q '"outputs"' "$work/stdout.err" || fail "the --json report did not go to stderr"
echo "output_test: ok"
