#include "io/audio/mp3.h"

#include <lame/lame.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

namespace acefit {
namespace {

struct LameDeleter {
  void operator()(lame_global_flags* flags) const { lame_close(flags); }
};

// LAME reports through printf-like callbacks, by default to stderr (and
// acefit may be writing audio to stdout). The last error line is kept for
// the Status instead; debug and info lines are dropped.
thread_local std::string lame_last_error;

void lame_keep_error(const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!text.empty()) lame_last_error = text;
}

void lame_drop_message(const char*, va_list) {}

// The encoded bytes with the test hook of Mp3EncodeOptions.
struct Mp3Output {
  std::vector<std::uint8_t> bytes;
  std::int64_t fail_after_bytes = -1;

  Status append(const unsigned char* data, int size, const char* stage) {
    if (size <= 0) return {};
    if (fail_after_bytes >= 0 && bytes.size() + static_cast<std::size_t>(size) >
                                     static_cast<std::uint64_t>(fail_after_bytes)) {
      return Status(ErrorCode::io,
                    std::string("MP3 encoder ") + stage + " failed: injected output failure");
    }
    bytes.insert(bytes.end(), data, data + size);
    return {};
  }
};

Status lame_error(const char* stage, int code) {
  std::string reason;
  switch (code) {
    case -1:
      reason = "output buffer too small";
      break;
    case -2:
      return Status(ErrorCode::out_of_memory,
                    std::string("MP3 encoder ") + stage + ": out of memory");
    case -3:
      reason = "encoder not initialized";
      break;
    case -4:
      reason = "psychoacoustic model problem";
      break;
    default:
      reason = "error " + std::to_string(code);
  }
  if (!lame_last_error.empty()) reason += " (" + lame_last_error + ")";
  return Status(ErrorCode::io, std::string("MP3 encoder ") + stage + " failed: " + reason);
}

}  // namespace

bool mp3_bitrate_is_valid(int bitrate_kbps) {
  static constexpr int kRates[] = {32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320};
  return std::find(std::begin(kRates), std::end(kRates), bitrate_kbps) != std::end(kRates);
}

std::uint64_t mp3_max_file_bytes(std::uint64_t frames, int sample_rate_hz) {
  constexpr std::uint64_t kMaxBytesPerS = 320000 / 8;
  const auto rate = static_cast<std::uint64_t>(std::max(sample_rate_hz, 1));
  // ceil(frames * 40000 / rate) without overflow for any 64-bit frame count.
  const std::uint64_t whole_s = frames / rate;
  const std::uint64_t rest = frames % rate;
  const std::uint64_t audio_bytes =
      whole_s * kMaxBytesPerS + (rest * kMaxBytesPerS + rate - 1) / rate;
  return audio_bytes + kMaxBytesPerS + (64u << 10);
}

Expected<EncodedAudio> encode_mp3(const AudioBuffer& audio, const Mp3EncodeOptions& options) {
  if (audio.channels < 1 || audio.channels > 2) {
    return invalid_argument("MP3 output supports 1 or 2 channels, got " +
                            std::to_string(audio.channels));
  }
  if (audio.interleaved.size() % static_cast<std::size_t>(audio.channels) != 0) {
    return invalid_argument("MP3 input of " + std::to_string(audio.interleaved.size()) +
                            " samples is not a whole number of frames");
  }
  if (audio.sample_rate_hz < 1) {
    return invalid_argument("MP3 cannot encode a sample rate of " +
                            std::to_string(audio.sample_rate_hz) + " Hz");
  }
  if (!mp3_bitrate_is_valid(options.bitrate_kbps)) {
    return invalid_argument(
        "MP3 bitrate must be one of 32, 40, 48, 56, 64, 80, 96, 112, 128, "
        "160, 192, 224, 256 or 320 kbit/s, got " +
        std::to_string(options.bitrate_kbps));
  }
  if (options.quality < 0 || options.quality > 9) {
    return invalid_argument("MP3 quality must be 0..9, got " + std::to_string(options.quality));
  }
  try {
    lame_last_error.clear();
    std::unique_ptr<lame_global_flags, LameDeleter> lame(lame_init());
    if (!lame) return Status(ErrorCode::out_of_memory, "MP3 encoder: cannot allocate");
    lame_global_flags* l = lame.get();
    lame_set_errorf(l, lame_keep_error);
    lame_set_debugf(l, lame_drop_message);
    lame_set_msgf(l, lame_drop_message);
    const bool mono = audio.channels == 1;
    int set_status = lame_set_num_channels(l, audio.channels);
    set_status |= lame_set_in_samplerate(l, audio.sample_rate_hz);
    // Keep MPEG-1's own rates; others are resampled to a rate LAME picks.
    const int rate = audio.sample_rate_hz;
    const bool mpeg1_rate = rate == 32000 || rate == 44100 || rate == 48000;
    set_status |= lame_set_out_samplerate(l, mpeg1_rate ? rate : 0);
    set_status |= lame_set_VBR(l, vbr_off);
    set_status |= lame_set_brate(l, options.bitrate_kbps);
    set_status |= lame_set_mode(l, mono ? MONO : JOINT_STEREO);
    set_status |= lame_set_quality(l, options.quality);
    set_status |= lame_set_bWriteVbrTag(l, 1);
    lame_set_write_id3tag_automatic(l, 0);
    if (set_status != 0) {
      return Status(ErrorCode::io,
                    "MP3 encoder setup failed" +
                        (lame_last_error.empty() ? std::string() : " (" + lame_last_error + ")"));
    }
    if (lame_init_params(l) < 0) {
      return Status(ErrorCode::io,
                    "MP3 encoder init failed for " + std::to_string(audio.channels) +
                        " channel(s) at " + std::to_string(audio.sample_rate_hz) + " Hz and " +
                        std::to_string(options.bitrate_kbps) + " kbit/s" +
                        (lame_last_error.empty() ? std::string() : " (" + lame_last_error + ")"));
    }

    EncodedAudio result;
    Mp3Output output;
    output.fail_after_bytes = options.fail_after_bytes;
    constexpr std::size_t kBlockFrames = 4 * 1152;
    std::vector<float> left(kBlockFrames);
    std::vector<float> right(kBlockFrames);
    // LAME's documented worst case for one call: 1.25 * frames + 7200 bytes.
    std::vector<unsigned char> encoded(kBlockFrames * 5 / 4 + 7200);
    const std::size_t channels = static_cast<std::size_t>(audio.channels);
    const std::uint64_t total_frames = audio.frames();
    for (std::uint64_t start = 0; start < total_frames; start += kBlockFrames) {
      const std::size_t count =
          static_cast<std::size_t>(std::min<std::uint64_t>(kBlockFrames, total_frames - start));
      const float* in = audio.interleaved.data() + start * channels;
      for (std::size_t i = 0; i < count; ++i) {
        left[i] = clamp_unit_sample(in[i * channels], result.clamped_samples);
        right[i] = mono ? left[i] : clamp_unit_sample(in[i * channels + 1], result.clamped_samples);
      }
      const int written =
          lame_encode_buffer_ieee_float(l, left.data(), right.data(), static_cast<int>(count),
                                        encoded.data(), static_cast<int>(encoded.size()));
      if (written < 0) return lame_error("encode", written);
      ACEFIT_TRY(output.append(encoded.data(), written, "encode"));
    }
    const int flushed = lame_encode_flush(l, encoded.data(), static_cast<int>(encoded.size()));
    if (flushed < 0) return lame_error("finish", flushed);
    ACEFIT_TRY(output.append(encoded.data(), flushed, "finish"));
    // The Info tag was written as a placeholder first frame; now that the
    // frame count and padding are known, put the final one in its place.
    const std::size_t tag_bytes = lame_get_lametag_frame(l, encoded.data(), encoded.size());
    if (tag_bytes > encoded.size() || tag_bytes > output.bytes.size()) {
      return Status(ErrorCode::internal,
                    "MP3 encoder finish failed: the Info tag of " + std::to_string(tag_bytes) +
                        " bytes does not fit the " + std::to_string(output.bytes.size()) +
                        " bytes encoded");
    }
    std::memcpy(output.bytes.data(), encoded.data(), tag_bytes);
    result.bytes = std::move(output.bytes);
    return result;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "MP3 encoder: out of memory");
  }
}

Expected<AudioWriteResult> write_mp3(const std::string& path, const AudioBuffer& audio,
                                     const Mp3EncodeOptions& options,
                                     const AtomicWriteOptions& atomic) {
  return write_encoded_audio(path, encode_mp3(audio, options), atomic);
}

}  // namespace acefit
