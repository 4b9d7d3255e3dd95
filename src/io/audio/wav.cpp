#include "io/audio/wav.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

namespace acefit {
namespace {

constexpr std::uint16_t kFormatPcm = 1;
constexpr std::uint16_t kFormatFloat = 3;
constexpr std::uint16_t kFormatExtensible = 0xFFFE;
constexpr std::uint64_t kU32Max = 0xFFFFFFFFull;
constexpr std::uint64_t kDs64ChunkBytes = 8 + 28;
constexpr std::size_t kMaxChunks = 4096;

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_id(std::vector<std::uint8_t>& out, const char* id) {
  out.insert(out.end(), id, id + 4);
}

std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t get_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t get_u64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(get_u32(p)) |
         (static_cast<std::uint64_t>(get_u32(p + 4)) << 32);
}

std::uint32_t bytes_per_sample(WavSampleFormat format) {
  switch (format) {
    case WavSampleFormat::pcm16:
      return 2;
    case WavSampleFormat::pcm24:
      return 3;
    case WavSampleFormat::float32:
      return 4;
  }
  return 0;
}

// Clamps to [-1, 1] (NaN -> 0) and counts a sample that needed it.
inline float sanitize(float x, std::uint64_t& clamped) {
  if (std::isnan(x)) {
    ++clamped;
    return 0.0f;
  }
  if (x > 1.0f) {
    ++clamped;
    return 1.0f;
  }
  if (x < -1.0f) {
    ++clamped;
    return -1.0f;
  }
  return x;
}

// x in [-1, 1] scaled by 2^(bits-1), rounded, and held in the integer range.
inline std::int32_t quantize(float x, double scale) {
  const double scaled = std::nearbyint(static_cast<double>(x) * scale);
  const double high = scale - 1.0;
  return static_cast<std::int32_t>(std::clamp(scaled, -scale, high));
}

}  // namespace

std::int32_t float_to_pcm(float sample, int bits, std::uint64_t& clamped) {
  return quantize(sanitize(sample, clamped), bits == 24 ? 8388608.0 : 32768.0);
}

Expected<WavPlan> plan_wav(std::uint64_t frames, int channels, int sample_rate_hz,
                           WavSampleFormat format) {
  if (channels < 1 || channels > 2) {
    return invalid_argument("WAV output supports 1 or 2 channels, got " + std::to_string(channels));
  }
  if (sample_rate_hz < 1) {
    return invalid_argument("WAV sample rate must be positive, got " +
                            std::to_string(sample_rate_hz));
  }
  WavPlan plan;
  plan.format = format;
  plan.channels = channels;
  plan.sample_rate_hz = sample_rate_hz;
  plan.frames = frames;
  plan.bytes_per_sample = bytes_per_sample(format);
  plan.block_align = plan.bytes_per_sample * static_cast<std::uint32_t>(channels);
  if (static_cast<std::uint64_t>(sample_rate_hz) * plan.block_align > kU32Max) {
    return invalid_argument("WAV byte rate overflows 32 bits at " + std::to_string(sample_rate_hz) +
                            " Hz");
  }
  // Keep every later sum far from 2^64: at most 2^62 bytes of samples.
  if (frames > (std::uint64_t{1} << 62) / plan.block_align) {
    return invalid_argument("WAV of " + std::to_string(frames) + " frames is too large");
  }
  plan.data_bytes = frames * plan.block_align;
  const std::uint64_t pad = plan.data_bytes & 1;
  const std::uint64_t fmt_chunk = format == WavSampleFormat::float32 ? 8 + 18 : 8 + 16;
  const std::uint64_t fact_chunk = format == WavSampleFormat::float32 ? 8 + 4 : 0;
  const std::uint64_t plain_header = 12 + fmt_chunk + fact_chunk + 8;
  const std::uint64_t plain_riff = plain_header - 8 + plan.data_bytes + pad;
  plan.rf64 = plain_riff > kWavMaxRiffSize;
  plan.header_bytes = plain_header + (plan.rf64 ? kDs64ChunkBytes : 0);
  plan.riff_size = plan.header_bytes - 8 + plan.data_bytes + pad;
  plan.file_bytes = plan.riff_size + 8;
  return plan;
}

std::vector<std::uint8_t> wav_header(const WavPlan& plan) {
  std::vector<std::uint8_t> h;
  h.reserve(plan.header_bytes);
  const bool is_float = plan.format == WavSampleFormat::float32;
  put_id(h, plan.rf64 ? "RF64" : "RIFF");
  put_u32(h, plan.rf64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(plan.riff_size));
  put_id(h, "WAVE");
  if (plan.rf64) {
    put_id(h, "ds64");
    put_u32(h, 28);
    put_u64(h, plan.riff_size);
    put_u64(h, plan.data_bytes);
    put_u64(h, plan.frames);
    put_u32(h, 0);  // no table entries
  }
  put_id(h, "fmt ");
  put_u32(h, is_float ? 18 : 16);
  put_u16(h, is_float ? kFormatFloat : kFormatPcm);
  put_u16(h, static_cast<std::uint16_t>(plan.channels));
  put_u32(h, static_cast<std::uint32_t>(plan.sample_rate_hz));
  put_u32(h, static_cast<std::uint32_t>(plan.sample_rate_hz) * plan.block_align);
  put_u16(h, static_cast<std::uint16_t>(plan.block_align));
  put_u16(h, static_cast<std::uint16_t>(plan.bytes_per_sample * 8));
  if (is_float) {
    put_u16(h, 0);  // cbSize
    put_id(h, "fact");
    put_u32(h, 4);
    put_u32(h, plan.frames > kU32Max ? 0xFFFFFFFFu : static_cast<std::uint32_t>(plan.frames));
  }
  put_id(h, "data");
  put_u32(h, plan.rf64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(plan.data_bytes));
  return h;
}

std::uint64_t encode_wav_samples(std::span<const float> samples, WavSampleFormat format,
                                 std::uint8_t* out) {
  std::uint64_t clamped = 0;
  switch (format) {
    case WavSampleFormat::pcm16:
      for (const float s : samples) {
        const std::int32_t v = quantize(sanitize(s, clamped), 32768.0);
        *out++ = static_cast<std::uint8_t>(v);
        *out++ = static_cast<std::uint8_t>(v >> 8);
      }
      break;
    case WavSampleFormat::pcm24:
      for (const float s : samples) {
        const std::int32_t v = quantize(sanitize(s, clamped), 8388608.0);
        *out++ = static_cast<std::uint8_t>(v);
        *out++ = static_cast<std::uint8_t>(v >> 8);
        *out++ = static_cast<std::uint8_t>(v >> 16);
      }
      break;
    case WavSampleFormat::float32:
      for (float s : samples) {
        // Float output keeps finite values (even beyond full scale); only
        // NaN and infinities, which players cannot handle, are replaced.
        if (std::isnan(s)) {
          s = 0.0f;
          ++clamped;
        } else if (std::isinf(s)) {
          s = s > 0 ? 1.0f : -1.0f;
          ++clamped;
        }
        std::uint32_t bits;
        std::memcpy(&bits, &s, 4);
        for (int i = 0; i < 4; ++i) *out++ = static_cast<std::uint8_t>(bits >> (8 * i));
      }
      break;
  }
  return clamped;
}

Expected<AudioWriteResult> encode_wav(const AudioBuffer& audio, WavSampleFormat format,
                                      const ByteSink& sink, const std::string& path) {
  try {
    if (audio.channels < 1 || audio.interleaved.size() % static_cast<std::size_t>(audio.channels)) {
      return invalid_argument(
          "cannot write '" + path + "': " + std::to_string(audio.interleaved.size()) +
          " samples do not form whole frames of " + std::to_string(audio.channels) + " channels");
    }
    auto planned = plan_wav(audio.frames(), audio.channels, audio.sample_rate_hz, format);
    if (!planned.ok()) return planned.status().with_context("cannot write '" + path + "'");
    const WavPlan& plan = *planned;
    ACEFIT_TRY(sink(wav_header(plan)));
    AudioWriteResult result;
    constexpr std::size_t kBlockFrames = 16384;
    const std::size_t block_samples = kBlockFrames * static_cast<std::size_t>(audio.channels);
    std::vector<std::uint8_t> block(block_samples * plan.bytes_per_sample);
    for (std::size_t start = 0; start < audio.interleaved.size(); start += block_samples) {
      const std::size_t count = std::min(block_samples, audio.interleaved.size() - start);
      const std::span<const float> samples(audio.interleaved.data() + start, count);
      result.clamped_samples += encode_wav_samples(samples, format, block.data());
      ACEFIT_TRY(sink(std::span<const std::uint8_t>(block.data(), count * plan.bytes_per_sample)));
    }
    if (plan.data_bytes & 1) {
      const std::uint8_t pad = 0;
      ACEFIT_TRY(sink(std::span<const std::uint8_t>(&pad, 1)));
    }
    result.file_bytes = plan.file_bytes;
    return result;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "cannot write '" + path + "': out of memory");
  }
}

Expected<AudioWriteResult> write_wav(const std::string& path, const AudioBuffer& audio,
                                     WavSampleFormat format, const AtomicWriteOptions& options) {
  ACEFIT_ASSIGN(AtomicFileWriter writer, AtomicFileWriter::create(path, options));
  const ByteSink sink = [&writer](std::span<const std::uint8_t> bytes) {
    return writer.write(bytes);
  };
  ACEFIT_ASSIGN(AudioWriteResult result, encode_wav(audio, format, sink, path));
  ACEFIT_TRY(writer.commit());
  return result;
}

// ---- reading ---------------------------------------------------------------

namespace {

struct WavFormatInfo {
  std::uint16_t tag = 0;  // PCM or float after resolving EXTENSIBLE
  int channels = 0;
  std::uint32_t sample_rate_hz = 0;
  std::uint32_t block_align = 0;
  std::uint32_t bits = 0;  // container bits per sample
};

Status wav_error(const std::string& origin, const std::string& what) {
  return Status(ErrorCode::corrupt, "WAV '" + origin + "': " + what);
}

Expected<WavFormatInfo> parse_fmt(const std::uint8_t* p, std::uint64_t size,
                                  const std::string& origin, const AudioReadLimits& limits) {
  if (size < 16) return wav_error(origin, "fmt chunk is " + std::to_string(size) + " bytes, < 16");
  WavFormatInfo info;
  info.tag = get_u16(p);
  info.channels = get_u16(p + 2);
  info.sample_rate_hz = get_u32(p + 4);
  info.block_align = get_u16(p + 12);
  info.bits = get_u16(p + 14);
  if (info.tag == kFormatExtensible) {
    static const std::uint8_t kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                               0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
    if (size < 40 || get_u16(p + 16) < 22) {
      return wav_error(origin, "WAVE_FORMAT_EXTENSIBLE fmt chunk is too short");
    }
    const std::uint16_t valid_bits = get_u16(p + 18);
    if (valid_bits > info.bits) {
      return wav_error(origin, "valid bits " + std::to_string(valid_bits) + " exceed container " +
                                   std::to_string(info.bits));
    }
    if (std::memcmp(p + 26, kGuidTail, 14) != 0) {
      return Status(ErrorCode::unsupported, "WAV '" + origin + "': unknown subformat GUID");
    }
    info.tag = get_u16(p + 24);
  }
  if (info.channels == 0) return wav_error(origin, "channel count is 0");
  if (info.channels > limits.max_channels) {
    return Status(ErrorCode::unsupported, "WAV '" + origin + "': " + std::to_string(info.channels) +
                                              " channels, more than the limit of " +
                                              std::to_string(limits.max_channels));
  }
  if (info.sample_rate_hz == 0) return wav_error(origin, "sample rate is 0");
  if (info.sample_rate_hz > static_cast<std::uint32_t>(limits.max_sample_rate_hz)) {
    return Status(ErrorCode::unsupported, "WAV '" + origin + "': sample rate " +
                                              std::to_string(info.sample_rate_hz) +
                                              " Hz is above the limit");
  }
  const bool pcm_ok = info.tag == kFormatPcm &&
                      (info.bits == 8 || info.bits == 16 || info.bits == 24 || info.bits == 32);
  const bool float_ok = info.tag == kFormatFloat && (info.bits == 32 || info.bits == 64);
  if (!pcm_ok && !float_ok) {
    return Status(ErrorCode::unsupported,
                  "WAV '" + origin + "': format tag " + std::to_string(info.tag) + " with " +
                      std::to_string(info.bits) + " bits per sample is not supported");
  }
  const std::uint32_t expected_align = static_cast<std::uint32_t>(info.channels) * info.bits / 8;
  if (info.block_align != expected_align) {
    return wav_error(origin, "block_align " + std::to_string(info.block_align) + " != channels " +
                                 std::to_string(info.channels) + " x " +
                                 std::to_string(info.bits / 8) + " bytes");
  }
  return info;
}

Status decode_samples(const std::uint8_t* p, std::uint64_t count, const WavFormatInfo& info,
                      const std::string& origin, float* out) {
  for (std::uint64_t i = 0; i < count; ++i) {
    float value = 0.0f;
    if (info.tag == kFormatPcm) {
      switch (info.bits) {
        case 8:
          value = (static_cast<int>(p[0]) - 128) / 128.0f;
          break;
        case 16:
          value = static_cast<float>(static_cast<std::int16_t>(get_u16(p)) / 32768.0);
          break;
        case 24: {
          std::int32_t v = static_cast<std::int32_t>(p[0] | (p[1] << 8) | (p[2] << 16));
          if (v & 0x800000) v -= 0x1000000;
          value = static_cast<float>(v / 8388608.0);
          break;
        }
        default:
          value = static_cast<float>(static_cast<std::int32_t>(get_u32(p)) / 2147483648.0);
          break;
      }
    } else if (info.bits == 32) {
      const std::uint32_t bits = get_u32(p);
      std::memcpy(&value, &bits, 4);
    } else {
      const std::uint64_t bits = get_u64(p);
      double d;
      std::memcpy(&d, &bits, 8);
      value = static_cast<float>(d);
    }
    if (!std::isfinite(value)) {
      return wav_error(origin, "sample " + std::to_string(i) + " is not a finite number");
    }
    out[i] = value;
    p += info.bits / 8;
  }
  return {};
}

}  // namespace

Expected<AudioBuffer> parse_wav(std::span<const std::uint8_t> bytes, const std::string& origin,
                                const AudioReadLimits& limits) {
  try {
    const std::uint8_t* base = bytes.data();
    const std::uint64_t size = bytes.size();
    if (size < 12) return wav_error(origin, "file is " + std::to_string(size) + " bytes, < 12");
    const bool rf64 = std::memcmp(base, "RF64", 4) == 0;
    if ((!rf64 && std::memcmp(base, "RIFF", 4) != 0) || std::memcmp(base + 8, "WAVE", 4) != 0) {
      return wav_error(origin, "not a RIFF/RF64 WAVE file");
    }
    std::uint64_t riff_size = get_u32(base + 4);
    std::uint64_t ds64_data_bytes = 0;
    std::uint64_t pos = 12;
    if (rf64) {
      if (size < 12 + kDs64ChunkBytes || std::memcmp(base + 12, "ds64", 4) != 0 ||
          get_u32(base + 16) < 28 || get_u32(base + 16) > size - 20) {
        return wav_error(origin, "RF64 file without a valid ds64 chunk first");
      }
      riff_size = get_u64(base + 20);
      ds64_data_bytes = get_u64(base + 28);
      const std::uint64_t ds64_size = get_u32(base + 16);
      pos = 20 + ds64_size + (ds64_size & 1);
    }
    if (riff_size < 4 || riff_size > size - 8) {
      return wav_error(origin, "truncated: the header declares " + std::to_string(riff_size) +
                                   " bytes after offset 8 but the file has " +
                                   std::to_string(size - 8));
    }
    const std::uint64_t end = riff_size + 8;
    const std::uint8_t* fmt = nullptr;
    std::uint64_t fmt_size = 0;
    std::uint64_t data_offset = 0;
    std::uint64_t data_size = 0;
    bool have_data = false;
    std::size_t chunks = 0;
    while (pos < end) {
      if (end - pos < 8) {
        return wav_error(origin, "truncated chunk header at offset " + std::to_string(pos));
      }
      if (++chunks > kMaxChunks) return wav_error(origin, "more than 4096 chunks");
      const std::uint8_t* id = base + pos;
      std::uint64_t chunk_size = get_u32(base + pos + 4);
      const bool is_data = std::memcmp(id, "data", 4) == 0;
      if (rf64 && is_data && chunk_size == kU32Max) chunk_size = ds64_data_bytes;
      if (chunk_size > end - pos - 8) {
        return wav_error(origin, "chunk '" + std::string(reinterpret_cast<const char*>(id), 4) +
                                     "' at offset " + std::to_string(pos) + " declares " +
                                     std::to_string(chunk_size) + " bytes but only " +
                                     std::to_string(end - pos - 8) + " remain");
      }
      if (std::memcmp(id, "fmt ", 4) == 0) {
        if (fmt != nullptr) return wav_error(origin, "more than one fmt chunk");
        fmt = base + pos + 8;
        fmt_size = chunk_size;
      } else if (is_data) {
        if (have_data) return wav_error(origin, "more than one data chunk");
        if (fmt == nullptr) return wav_error(origin, "data chunk before the fmt chunk");
        have_data = true;
        data_offset = pos + 8;
        data_size = chunk_size;
      }
      pos += 8 + chunk_size + (chunk_size & 1);
    }
    if (fmt == nullptr) return wav_error(origin, "no fmt chunk");
    if (!have_data) return wav_error(origin, "no data chunk");
    ACEFIT_ASSIGN(const WavFormatInfo info, parse_fmt(fmt, fmt_size, origin, limits));
    if (data_size % info.block_align != 0) {
      return wav_error(origin, "data chunk of " + std::to_string(data_size) +
                                   " bytes is not a whole number of " +
                                   std::to_string(info.block_align) + "-byte frames");
    }
    const std::uint64_t frames = data_size / info.block_align;
    if (frames > limits.max_frames) {
      return Status(ErrorCode::unsupported, "WAV '" + origin + "': " + std::to_string(frames) +
                                                " frames, more than the limit of " +
                                                std::to_string(limits.max_frames));
    }
    AudioBuffer audio;
    audio.channels = info.channels;
    audio.sample_rate_hz = static_cast<int>(info.sample_rate_hz);
    const std::uint64_t samples = frames * static_cast<std::uint64_t>(info.channels);
    audio.interleaved.resize(samples);
    ACEFIT_TRY(decode_samples(base + data_offset, samples, info, origin, audio.interleaved.data()));
    return audio;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "WAV '" + origin + "': out of memory");
  }
}

Expected<AudioBuffer> read_wav(const std::string& path, const AudioReadLimits& limits) {
  ACEFIT_ASSIGN(const std::vector<std::uint8_t> bytes,
                read_file_bytes(path, limits.max_file_bytes));
  return parse_wav(bytes, path, limits);
}

}  // namespace acefit
