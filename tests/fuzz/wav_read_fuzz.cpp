// Fuzz target: bytes -> the WAV reader (RIFF/RF64 chunk walk, fmt parsing,
// sample decoding), with small limits so no input can ask for much memory.
// The first input byte also drives the header planner with structured values.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "io/audio/wav.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  acefit::AudioReadLimits limits;
  limits.max_frames = 1u << 20;
  (void)acefit::parse_wav(std::span<const std::uint8_t>(data, size), "fuzz.wav", limits);
  if (size >= 13) {
    std::uint64_t frames = 0;
    std::memcpy(&frames, data + 1, 8);
    std::uint32_t rate = 0;
    std::memcpy(&rate, data + 9, 4);
    const auto format = static_cast<acefit::WavSampleFormat>(data[0] % 3);
    auto plan =
        acefit::plan_wav(frames, 1 + (data[0] >> 7), static_cast<int>(rate & 0x7FFFFFFF), format);
    if (plan.ok() && plan->header_bytes != acefit::wav_header(*plan).size()) __builtin_trap();
  }
  return 0;
}
