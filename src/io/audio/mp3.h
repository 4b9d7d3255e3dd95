// MP3 output through LAME (libmp3lame, the reference MP3 encoder). The file
// is encoded into memory (with LAME's "Info" tag in the first frame, which
// records the encoder delay and padding for gapless players) and only then
// handed to a sink or committed with write_file_atomic, so a failed encode
// never leaves a file behind (OUT-12). See docs/AUDIO.md ("MP3 and Opus").
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "io/audio/audio_file.h"
#include "io/file/atomic_file.h"

namespace acefit {

struct Mp3EncodeOptions {
  // Constant bitrate in kbit/s, one of MPEG-1 Layer III's rates (32..320).
  // 192 kbit/s joint stereo is transparent for most music at about 1.4 MB
  // a minute; a constant rate keeps the size predictable.
  int bitrate_kbps = 192;
  // LAME's algorithm quality, 0 (best, slowest) .. 9 (worst); 2 is LAME's
  // recommended "near best" setting (its -h).
  int quality = 2;
  // Test hook: the in-memory output fails once this many bytes have been
  // accepted (-1: never); 0 fails at the first encoded bytes, larger values
  // at a later block or at the final flush.
  std::int64_t fail_after_bytes = -1;
};

// The MPEG-1 Layer III bitrates (kbit/s) LAME accepts for CBR.
bool mp3_bitrate_is_valid(int bitrate_kbps);

// Encodes `audio` (1 or 2 channels, any rate LAME accepts: other rates than
// 32, 44.1 and 48 kHz are resampled by LAME to one it can store) into MP3
// bytes in memory. Samples are clamped as clamp_unit_sample describes.
Expected<EncodedAudio> encode_mp3(const AudioBuffer& audio, const Mp3EncodeOptions& options = {});

// Encodes and writes atomically.
Expected<AudioWriteResult> write_mp3(const std::string& path, const AudioBuffer& audio,
                                     const Mp3EncodeOptions& options = {},
                                     const AtomicWriteOptions& atomic = {});

// An upper bound of the MP3 file of `frames` frames at `sample_rate_hz` for
// any options: every frame at 320 kbit/s (the format's highest rate), plus
// one second for the encoder delay, padding and the Info frame, plus 64 KiB.
std::uint64_t mp3_max_file_bytes(std::uint64_t frames, int sample_rate_hz);

}  // namespace acefit
