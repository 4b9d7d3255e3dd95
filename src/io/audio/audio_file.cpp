#include "io/audio/audio_file.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <new>

#include "io/audio/flac.h"
#include "io/audio/mp3.h"
#include "io/audio/opus.h"
#include "io/audio/wav.h"

namespace acefit {

const char* audio_format_name(AudioFormat format) {
  switch (format) {
    case AudioFormat::wav16:
      return "wav16";
    case AudioFormat::wav32f:
      return "wav32f";
    case AudioFormat::flac16:
      return "flac16";
    case AudioFormat::flac24:
      return "flac24";
    case AudioFormat::mp3:
      return "mp3";
    case AudioFormat::opus:
      return "opus";
  }
  return "unknown";
}

Expected<AudioFormat> audio_format_from_name(const std::string& name) {
  for (AudioFormat f : {AudioFormat::wav16, AudioFormat::wav32f, AudioFormat::flac16,
                        AudioFormat::flac24, AudioFormat::mp3, AudioFormat::opus}) {
    if (name == audio_format_name(f)) return f;
  }
  return invalid_argument("unknown audio format '" + name +
                          "' (expected wav16, wav32f, flac16, flac24, mp3 or opus)");
}

Expected<AudioFormat> audio_format_from_extension(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::size_t dot = path.rfind('.');
  std::string ext;
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    ext = path.substr(dot + 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (ext == "wav") return AudioFormat::wav16;
  if (ext == "flac") return AudioFormat::flac16;
  if (ext == "mp3") return AudioFormat::mp3;
  if (ext == "opus") return AudioFormat::opus;
  return invalid_argument("cannot tell the audio format of '" + path +
                          "' from its extension (expected .wav, .flac, .mp3 or .opus)");
}

float clamp_unit_sample(float sample, std::uint64_t& clamped) {
  if (std::isnan(sample)) {
    ++clamped;
    return 0.0f;
  }
  if (sample > 1.0f) {
    ++clamped;
    return 1.0f;
  }
  if (sample < -1.0f) {
    ++clamped;
    return -1.0f;
  }
  return sample;
}

Expected<AudioWriteResult> write_encoded_audio(const std::string& path,
                                               Expected<EncodedAudio> encoded,
                                               const AtomicWriteOptions& atomic) {
  if (!encoded.ok()) return encoded.status().with_context("cannot write '" + path + "'");
  ACEFIT_TRY(write_file_atomic(path, encoded->bytes, atomic));
  AudioWriteResult result;
  result.clamped_samples = encoded->clamped_samples;
  result.file_bytes = encoded->bytes.size();
  return result;
}

Expected<AudioWriteResult> write_audio_file(const std::string& path, const AudioBuffer& audio,
                                            AudioFormat format, const AtomicWriteOptions& options) {
  switch (format) {
    case AudioFormat::wav16:
      return write_wav(path, audio, WavSampleFormat::pcm16, options);
    case AudioFormat::wav32f:
      return write_wav(path, audio, WavSampleFormat::float32, options);
    case AudioFormat::flac16:
    case AudioFormat::flac24: {
      FlacEncodeOptions flac;
      flac.bits_per_sample = format == AudioFormat::flac16 ? 16 : 24;
      return write_flac(path, audio, flac, options);
    }
    case AudioFormat::mp3:
      return write_mp3(path, audio, Mp3EncodeOptions{}, options);
    case AudioFormat::opus:
      return write_opus(path, audio, OpusEncodeOptions{}, options);
  }
  return invalid_argument("cannot write '" + path + "': unknown audio format");
}

std::uint64_t planned_audio_file_bytes(std::uint64_t frames, int channels, int sample_rate_hz,
                                       AudioFormat format) {
  if (format == AudioFormat::mp3) return mp3_max_file_bytes(frames, sample_rate_hz);
  if (format == AudioFormat::opus) return opus_max_file_bytes(frames, sample_rate_hz);
  const WavSampleFormat wav = format == AudioFormat::wav32f   ? WavSampleFormat::float32
                              : format == AudioFormat::flac24 ? WavSampleFormat::pcm24
                                                              : WavSampleFormat::pcm16;
  auto plan = plan_wav(frames, channels, sample_rate_hz, wav);
  const std::uint64_t wav_bytes =
      plan.ok() ? plan->file_bytes
                : frames * static_cast<std::uint64_t>(std::max(channels, 1)) * 4 + 4096;
  if (format == AudioFormat::wav16 || format == AudioFormat::wav32f) return wav_bytes;
  return wav_bytes + wav_bytes / 64 + (64u << 10);
}

Expected<AudioWriteResult> encode_audio(const AudioBuffer& audio, AudioFormat format,
                                        const ByteSink& sink, const std::string& path) {
  switch (format) {
    case AudioFormat::wav16:
      return encode_wav(audio, WavSampleFormat::pcm16, sink, path);
    case AudioFormat::wav32f:
      return encode_wav(audio, WavSampleFormat::float32, sink, path);
    case AudioFormat::flac16:
    case AudioFormat::flac24: {
      FlacEncodeOptions flac;
      flac.bits_per_sample = format == AudioFormat::flac16 ? 16 : 24;
      auto encoded = encode_flac(audio, flac);
      if (!encoded.ok()) return encoded.status().with_context("cannot write '" + path + "'");
      ACEFIT_TRY(sink(encoded->bytes));
      AudioWriteResult result;
      result.clamped_samples = encoded->clamped_samples;
      result.file_bytes = encoded->bytes.size();
      return result;
    }
    case AudioFormat::mp3:
    case AudioFormat::opus: {
      auto encoded = format == AudioFormat::mp3 ? encode_mp3(audio) : encode_opus(audio);
      if (!encoded.ok()) return encoded.status().with_context("cannot write '" + path + "'");
      ACEFIT_TRY(sink(encoded->bytes));
      AudioWriteResult result;
      result.clamped_samples = encoded->clamped_samples;
      result.file_bytes = encoded->bytes.size();
      return result;
    }
  }
  return invalid_argument("cannot write '" + path + "': unknown audio format");
}

Expected<AudioBuffer> read_audio_file(const std::string& path, const AudioReadLimits& limits) {
  ACEFIT_ASSIGN(const std::vector<std::uint8_t> bytes,
                read_file_bytes(path, limits.max_file_bytes));
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "fLaC", 4) == 0) {
    return decode_flac(bytes, path, limits);
  }
  if (bytes.size() >= 4 &&
      (std::memcmp(bytes.data(), "RIFF", 4) == 0 || std::memcmp(bytes.data(), "RF64", 4) == 0)) {
    return parse_wav(bytes, path, limits);
  }
  return Status(ErrorCode::unsupported,
                "cannot read '" + path + "': not a WAV (RIFF/RF64) or FLAC file");
}

}  // namespace acefit
