// FLAC output and input through libFLAC. Encoding runs into memory (the
// encoder's seek callback lets it finish STREAMINFO with the MD5 and the
// frame sizes) and the bytes are then committed with write_file_atomic, so a
// failed encode never leaves a file behind (OUT-12). Decoding checks frame
// CRCs and the MD5 and is bounded by AudioReadLimits.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/audio/audio_file.h"
#include "io/file/atomic_file.h"

namespace acefit {

struct FlacEncodeOptions {
  int bits_per_sample = 16;   // 16 or 24
  int compression_level = 5;  // 0..8
  bool verify = true;         // libFLAC decodes its own output while encoding
  // Test hook: the encoder's output sink fails once this many bytes have
  // been accepted (-1: never). 0 fails during init (the "fLaC" marker),
  // later values during process or finish.
  std::int64_t fail_after_bytes = -1;
};

// Encodes `audio` (1 or 2 channels) into FLAC bytes in memory.
Expected<EncodedAudio> encode_flac(const AudioBuffer& audio, const FlacEncodeOptions& options = {});

// Encodes and writes atomically.
Expected<AudioWriteResult> write_flac(const std::string& path, const AudioBuffer& audio,
                                      const FlacEncodeOptions& options = {},
                                      const AtomicWriteOptions& atomic = {});

// Decodes FLAC held in memory; `origin` names the source in errors.
Expected<AudioBuffer> decode_flac(std::span<const std::uint8_t> bytes, const std::string& origin,
                                  const AudioReadLimits& limits = {});
Expected<AudioBuffer> read_flac(const std::string& path, const AudioReadLimits& limits = {});

}  // namespace acefit
