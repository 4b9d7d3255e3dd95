#!/usr/bin/env bash
# The vulkan device from the command line: devices lists it, generate runs
# the self-check and the tiny demo checkpoints on it (the same device peak as planned, audio
# close to the sim device's run of the same request: sim, like every GPU
# device, keeps the DiT's matrices in bf16, the CPU in f32), and a device
# index that does
# not exist is named. (Caps and out of memory on vulkan:
# vulkan_pipeline_test.cpp.)
# Usage: vulkan_test.sh ACEFIT WORKDIR [DEVICE] (DEVICE: vulkan:N, default
# the device ACEFIT_TEST_VULKAN_DEVICE names, else lavapipe's index; needs
# the Qwen3 tokenizer files, as generate_test.sh).
set -euo pipefail
acefit="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
number() { grep -o "\"$2\": *[0-9.e+-]*" "$1" | head -1 | sed 's/.*: *//'; }

"$acefit" devices --json >"$work/devices.json" 2>/dev/null || fail "devices --json"
want="${ACEFIT_TEST_VULKAN_DEVICE:-llvmpipe}"
device="${3:-}"
if [ -z "$device" ]; then
  device=$(python3 - "$work/devices.json" "$want" <<'PY'
import json, sys
devices = json.load(open(sys.argv[1])).get("vulkan_devices", [])
want = sys.argv[2]
for d in devices:
    if want == str(int(d["name"].split(":")[1])) or want in d["device_name"]:
        print(d["name"]); break
PY
)
fi
if [ -z "$device" ]; then
  [ "${ACEFIT_TEST_REQUIRE_VULKAN:-0}" = 1 ] && fail "no Vulkan device matches '$want'"
  echo "no Vulkan device matches '$want': skipped"; exit 0
fi
echo "device: $device"

# The self-check (every op family, planned peak == measured) on it.
"$acefit" selfcheck --device "$device" >"$work/selfcheck.txt" 2>&1 \
  || fail "selfcheck --device $device: $(tail -5 "$work/selfcheck.txt")"

"$acefit" make-demo-checkpoints "$work/ckpt" --no-lm >/dev/null 2>"$work/mk.log" \
  || fail "make-demo-checkpoints: $(cat "$work/mk.log")"
run() {  # run NAME DEVICE [extra args]
  local name="$1" dev="$2"; shift 2
  "$acefit" generate --checkpoints "$work/ckpt" --device "$dev" --caption "warm synth" \
    --lyrics "[verse] la" --duration 5 --seed 9 --out "$work/$name.wav" --json "$@" \
    >"$work/$name.json" 2>"$work/$name.log"
}
run vulkan "$device" || fail "generate --device $device: $(tail -5 "$work/vulkan.log")"
grep -q "\"device\": *\"$device\"" "$work/vulkan.json" || fail "the run did not say it ran on $device"
peak=$(number "$work/vulkan.json" peak_device_bytes)
planned=$(number "$work/vulkan.json" planned_peak_device_bytes)
[ "$peak" = "$planned" ] || fail "device peak $peak != planned $planned"
run sim sim || fail "generate --device sim: $(tail -5 "$work/sim.log")"
python3 - "$work/vulkan.wav" "$work/sim.wav" <<'PY' || fail "vulkan audio differs from sim's"
import struct, sys, wave
def samples(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2, w.getsampwidth()
        data = w.readframes(w.getnframes())
    return struct.unpack("<%dh" % (len(data) // 2), data)
a, b = samples(sys.argv[1]), samples(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
worst = max(abs(x - y) for x, y in zip(a, b))
print("largest sample difference (16-bit):", worst)
assert worst <= 64, worst
PY

# A device that does not exist.
if "$acefit" generate --checkpoints "$work/ckpt" --device vulkan:99 --caption x --duration 5 \
   --out "$work/none.wav" 2>"$work/none.log"; then fail "vulkan:99 ran"; fi
grep -q "vulkan:99" "$work/none.log" || fail "the error does not name vulkan:99: $(cat "$work/none.log")"
echo "ok"
