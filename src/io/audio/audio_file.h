// Audio files: the in-memory audio type shared by the WAV, FLAC, MP3 and Opus
// code, the output format choice (by name or by file extension), and one
// entry point each for writing (atomic, see io/file/atomic_file.h) and
// reading WAV or FLAC (format sniffed from the file's first bytes).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/file/atomic_file.h"

namespace acefit {

// Interleaved float samples (frame-major: L R L R ... for stereo). Nominal
// full scale is [-1, 1].
struct AudioBuffer {
  int sample_rate_hz = 48000;
  int channels = 2;
  std::vector<float> interleaved;

  std::uint64_t frames() const {
    return channels > 0 ? interleaved.size() / static_cast<std::uint64_t>(channels) : 0;
  }
};

// What a writer reports besides success.
struct AudioWriteResult {
  // Samples that were NaN, infinite or outside [-1, 1] before integer
  // quantization (or before the MP3 and Opus encoders) and were clamped
  // (for float32 output: NaN and infinities replaced; finite values are
  // kept as they are). OUT-11.
  std::uint64_t clamped_samples = 0;
  std::uint64_t file_bytes = 0;
};

// Bounds for reading untrusted audio (reference audio, uploads).
struct AudioReadLimits {
  std::uint64_t max_file_bytes = 2ull << 30;      // 2 GiB
  std::uint64_t max_frames = 48000ull * 60 * 60;  // one hour at 48 kHz
  int max_channels = 8;
  int max_sample_rate_hz = 768000;
};

enum class AudioFormat { wav16, wav32f, flac16, flac24, mp3, opus };

// "wav16", "wav32f", "flac16", "flac24", "mp3", "opus".
const char* audio_format_name(AudioFormat format);
Expected<AudioFormat> audio_format_from_name(const std::string& name);
// ".wav" -> wav16, ".flac" -> flac16, ".mp3" -> mp3, ".opus" -> opus
// (case-insensitive); other extensions are an error naming the path.
Expected<AudioFormat> audio_format_from_extension(const std::string& path);

// A whole file encoded in memory (FLAC, MP3, Opus), to be handed to a sink
// or committed atomically in one piece.
struct EncodedAudio {
  std::vector<std::uint8_t> bytes;
  std::uint64_t clamped_samples = 0;
};

// Commits `encoded` (an encoder's result) to `path` atomically; an encoder
// error comes back naming the path. What write_flac, write_mp3 and
// write_opus share.
Expected<AudioWriteResult> write_encoded_audio(const std::string& path,
                                               Expected<EncodedAudio> encoded,
                                               const AtomicWriteOptions& atomic);

// One sample for a lossy encoder's float input: NaN -> 0, infinities and
// values outside [-1, 1] -> the nearest of -1 and 1, each counted in
// `clamped` (OUT-11).
float clamp_unit_sample(float sample, std::uint64_t& clamped);

// Where encoded bytes go: an AtomicFileWriter, a stream, memory.
using ByteSink = std::function<Status(std::span<const std::uint8_t>)>;

// The size of the file `format` makes of `frames` frames: exact for WAV; for
// FLAC a bound (the WAV size of the same bit depth plus 1/64 and 64 KiB for
// frame headers of incompressible audio); for MP3 and Opus a bound from the
// format's highest bitrate (mp3_max_file_bytes, opus_max_file_bytes). Used
// to check free space before any work starts.
std::uint64_t planned_audio_file_bytes(std::uint64_t frames, int channels, int sample_rate_hz,
                                       AudioFormat format);

// Encodes `audio` in `format` into `sink` (FLAC, MP3 and Opus are encoded in
// memory first and then handed over in one piece). `path` names the output
// in errors.
Expected<AudioWriteResult> encode_audio(const AudioBuffer& audio, AudioFormat format,
                                        const ByteSink& sink, const std::string& path);

// Writes `audio` (1 or 2 channels) to `path` in `format`, atomically.
Expected<AudioWriteResult> write_audio_file(const std::string& path, const AudioBuffer& audio,
                                            AudioFormat format,
                                            const AtomicWriteOptions& options = {});

// Reads a WAV (RIFF or RF64) or FLAC file, chosen by its first four bytes.
Expected<AudioBuffer> read_audio_file(const std::string& path, const AudioReadLimits& limits = {});

}  // namespace acefit
