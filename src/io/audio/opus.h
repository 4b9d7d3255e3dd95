// Ogg Opus output through libopusenc (on libopus, the reference Opus codec).
// The file is encoded into memory and only then handed to a sink or
// committed with write_file_atomic, so a failed encode never leaves a file
// behind (OUT-12). See docs/AUDIO.md ("MP3 and Opus").
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "io/audio/audio_file.h"
#include "io/file/atomic_file.h"

namespace acefit {

struct OpusEncodeOptions {
  // Target bitrate in bit/s (VBR), 6000..510000; 0 picks 64 kbit/s per
  // channel (128 kbit/s stereo), where Opus is close to transparent for
  // music.
  int bitrate_bps = 0;
  // libopus complexity 0..10 (10: best quality, libopus's default).
  int complexity = 10;
  // Test hook: the in-memory output fails once this many bytes have been
  // accepted (-1: never); 0 fails at the first Ogg page, larger values at a
  // later page or while draining.
  std::int64_t fail_after_bytes = -1;
};

// Encodes `audio` (1 or 2 channels) into Ogg Opus bytes in memory, with the
// music signal hint. Opus always runs at 48 kHz: input at another rate
// (8 kHz .. 192 kHz; others are refused) is resampled by libopusenc, and the file records the
// input rate in its OpusHead. Samples are clamped as clamp_unit_sample
// describes. Empty audio is refused (libopusenc cannot drain an empty
// stream).
Expected<EncodedAudio> encode_opus(const AudioBuffer& audio, const OpusEncodeOptions& options = {});

// Encodes and writes atomically.
Expected<AudioWriteResult> write_opus(const std::string& path, const AudioBuffer& audio,
                                      const OpusEncodeOptions& options = {},
                                      const AtomicWriteOptions& atomic = {});

// An upper bound of the Ogg Opus file of `frames` frames at
// `sample_rate_hz` for any options: every 20 ms packet at Opus's largest
// (1276 bytes, 510 kbit/s) in its own Ogg page, plus one second of packets
// for the pre-skip, padding and resampler delay, plus 64 KiB of headers.
std::uint64_t opus_max_file_bytes(std::uint64_t frames, int sample_rate_hz);

}  // namespace acefit
