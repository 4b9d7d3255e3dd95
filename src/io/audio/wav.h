// WAV output and input. The header is planned in 64-bit arithmetic; a file
// whose RIFF size would pass 4,294,967,295 bytes is written as RF64 with a
// ds64 chunk (OUT-10). Samples are clamped before integer quantization and
// the clamps are counted (OUT-11). Writing goes through AtomicFileWriter.
// Reading treats the file as untrusted: every chunk is bounds-checked.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/audio/audio_file.h"
#include "io/file/atomic_file.h"

namespace acefit {

enum class WavSampleFormat { pcm16, pcm24, float32 };

// The sizes of one WAV file, all in bytes unless named otherwise.
struct WavPlan {
  WavSampleFormat format = WavSampleFormat::pcm16;
  int channels = 0;
  int sample_rate_hz = 0;
  std::uint64_t frames = 0;
  std::uint32_t bytes_per_sample = 0;
  std::uint32_t block_align = 0;   // bytes per frame
  std::uint64_t data_bytes = 0;    // payload of the data chunk (without pad)
  std::uint64_t header_bytes = 0;  // everything before the sample data
  std::uint64_t riff_size = 0;     // file_bytes - 8, as RIFF/ds64 records it
  std::uint64_t file_bytes = 0;
  bool rf64 = false;
};

// The largest RIFF size a plain (non-RF64) WAV can state.
inline constexpr std::uint64_t kWavMaxRiffSize = 0xFFFFFFFFull;

// Plans a file of `frames` frames: 1..8 channels, rate 1..4,294,967,295 Hz.
// Chooses RF64 exactly when riff_size > kWavMaxRiffSize.
Expected<WavPlan> plan_wav(std::uint64_t frames, int channels, int sample_rate_hz,
                           WavSampleFormat format);

// The header bytes for `plan` (header_bytes long).
std::vector<std::uint8_t> wav_header(const WavPlan& plan);

// One sample to a signed integer of `bits` (16 or 24) bits: NaN -> 0 and
// values outside [-1, 1] clamped (each counted in `clamped`), then scaled by
// 2^(bits-1), rounded to nearest and held in [-2^(bits-1), 2^(bits-1) - 1].
std::int32_t float_to_pcm(float sample, int bits, std::uint64_t& clamped);

// Converts samples to the file's little-endian encoding, clamping as
// described in AudioWriteResult; returns the number clamped.
std::uint64_t encode_wav_samples(std::span<const float> samples, WavSampleFormat format,
                                 std::uint8_t* out);

// Encodes `audio` as a WAV file into `sink` (header first: every size is
// known up front, so a stream needs no seek). `path` names it in errors.
Expected<AudioWriteResult> encode_wav(const AudioBuffer& audio, WavSampleFormat format,
                                      const ByteSink& sink, const std::string& path);

// Writes `audio` to `path` atomically.
Expected<AudioWriteResult> write_wav(const std::string& path, const AudioBuffer& audio,
                                     WavSampleFormat format,
                                     const AtomicWriteOptions& options = {});

// Decodes a WAV held in memory: RIFF or RF64; PCM 8/16/24/32-bit, IEEE float
// 32/64-bit, WAVE_FORMAT_EXTENSIBLE with those subformats. `origin` names the
// source in error messages.
Expected<AudioBuffer> parse_wav(std::span<const std::uint8_t> bytes, const std::string& origin,
                                const AudioReadLimits& limits = {});
Expected<AudioBuffer> read_wav(const std::string& path, const AudioReadLimits& limits = {});

}  // namespace acefit
