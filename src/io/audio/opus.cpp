#include "io/audio/opus.h"

#include <opus/opus_defines.h>
#include <opus/opusenc.h>

#include <algorithm>
#include <memory>
#include <new>

namespace acefit {
namespace {

constexpr int kOpusMinInputRateHz = 8000;
constexpr int kOpusMaxInputRateHz = 192000;

struct OpeEncoderDeleter {
  void operator()(OggOpusEnc* encoder) const { ope_encoder_destroy(encoder); }
};
struct OpeCommentsDeleter {
  void operator()(OggOpusComments* comments) const { ope_comments_destroy(comments); }
};

// Where libopusenc's pages go, with the test hook of OpusEncodeOptions.
struct OpusPageSink {
  std::vector<std::uint8_t> bytes;
  std::int64_t fail_after_bytes = -1;
  bool out_of_memory = false;
  bool injected_failure = false;
};

int opus_sink_write(void* user, const unsigned char* data, opus_int32 size) {
  auto* sink = static_cast<OpusPageSink*>(user);
  if (size < 0) return 1;
  const auto count = static_cast<std::size_t>(size);
  if (sink->fail_after_bytes >= 0 &&
      sink->bytes.size() + count > static_cast<std::uint64_t>(sink->fail_after_bytes)) {
    sink->injected_failure = true;
    return 1;
  }
  try {
    sink->bytes.insert(sink->bytes.end(), data, data + count);
    return 0;
  } catch (const std::bad_alloc&) {
    sink->out_of_memory = true;
    return 1;
  }
}

int opus_sink_close(void*) {
  return 0;
}

// A failed libopusenc call (`error`, an OPE_ or OPUS_ code) or a failure of
// the sink that libopusenc may not have passed on.
Status opus_error(const char* stage, int error, const OpusPageSink& sink) {
  if (sink.out_of_memory || error == OPE_ALLOC_FAIL) {
    return Status(ErrorCode::out_of_memory,
                  std::string("Opus encoder ") + stage + ": out of memory");
  }
  std::string reason = sink.injected_failure ? "injected output failure" : ope_strerror(error);
  return Status(ErrorCode::io, std::string("Opus encoder ") + stage + " failed: " + reason);
}

bool opus_sink_failed(const OpusPageSink& sink) {
  return sink.injected_failure || sink.out_of_memory;
}

}  // namespace

std::uint64_t opus_max_file_bytes(std::uint64_t frames, int sample_rate_hz) {
  constexpr std::uint64_t kPacketFrames = 960;           // 20 ms at 48 kHz
  constexpr std::uint64_t kPacketBytes = 1276 + 6 + 27;  // packet, lacing, page header
  const auto rate = static_cast<std::uint64_t>(std::max(sample_rate_hz, 1));
  // frames at 48 kHz, rounded up, without overflow for any 64-bit count.
  const std::uint64_t frames_48k =
      frames / rate * 48000 + ((frames % rate) * 48000 + rate - 1) / rate;
  const std::uint64_t packets = (frames_48k + kPacketFrames - 1) / kPacketFrames + 50;
  return packets * kPacketBytes + (64u << 10);
}

Expected<EncodedAudio> encode_opus(const AudioBuffer& audio, const OpusEncodeOptions& options) {
  if (audio.channels < 1 || audio.channels > 2) {
    return invalid_argument("Opus output supports 1 or 2 channels, got " +
                            std::to_string(audio.channels));
  }
  if (audio.interleaved.size() % static_cast<std::size_t>(audio.channels) != 0) {
    return invalid_argument("Opus input of " + std::to_string(audio.interleaved.size()) +
                            " samples is not a whole number of frames");
  }
  if (audio.sample_rate_hz < kOpusMinInputRateHz || audio.sample_rate_hz > kOpusMaxInputRateHz) {
    return invalid_argument(
        "Opus output takes input at 8000..192000 Hz (resampled to 48 kHz), got " +
        std::to_string(audio.sample_rate_hz) + " Hz");
  }
  if (audio.frames() == 0) {
    // libopusenc 0.2.1 fails an assertion when drained with no audio.
    return invalid_argument("Opus output needs at least one frame of audio");
  }
  if (options.bitrate_bps != 0 && (options.bitrate_bps < 6000 || options.bitrate_bps > 510000)) {
    return invalid_argument("Opus bitrate must be 6000..510000 bit/s, got " +
                            std::to_string(options.bitrate_bps));
  }
  if (options.complexity < 0 || options.complexity > 10) {
    return invalid_argument("Opus complexity must be 0..10, got " +
                            std::to_string(options.complexity));
  }
  const int bitrate_bps = options.bitrate_bps != 0 ? options.bitrate_bps : 64000 * audio.channels;
  try {
    OpusPageSink sink;  // declared before the encoder: it must outlive it
    sink.fail_after_bytes = options.fail_after_bytes;
    std::unique_ptr<OggOpusComments, OpeCommentsDeleter> comments(ope_comments_create());
    if (!comments) return Status(ErrorCode::out_of_memory, "Opus encoder: cannot allocate");
    OpusEncCallbacks callbacks{opus_sink_write, opus_sink_close};
    int error = OPE_OK;
    std::unique_ptr<OggOpusEnc, OpeEncoderDeleter> encoder(ope_encoder_create_callbacks(
        &callbacks, &sink, comments.get(), audio.sample_rate_hz, audio.channels, 0, &error));
    if (!encoder || error != OPE_OK) return opus_error("init", error, sink);
    OggOpusEnc* e = encoder.get();
    error = ope_encoder_ctl(e, OPUS_SET_BITRATE(bitrate_bps));
    if (error == OPE_OK) error = ope_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_MUSIC));
    if (error == OPE_OK) error = ope_encoder_ctl(e, OPUS_SET_COMPLEXITY(options.complexity));
    if (error != OPE_OK) return opus_error("setup", error, sink);

    EncodedAudio result;
    constexpr std::size_t kBlockFrames = 4800;  // 100 ms at 48 kHz
    const std::size_t channels = static_cast<std::size_t>(audio.channels);
    std::vector<float> block(kBlockFrames * channels);
    const std::uint64_t total_frames = audio.frames();
    for (std::uint64_t start = 0; start < total_frames; start += kBlockFrames) {
      const std::size_t count =
          static_cast<std::size_t>(std::min<std::uint64_t>(kBlockFrames, total_frames - start));
      const float* in = audio.interleaved.data() + start * channels;
      for (std::size_t i = 0; i < count * channels; ++i) {
        block[i] = clamp_unit_sample(in[i], result.clamped_samples);
      }
      error = ope_encoder_write_float(e, block.data(), static_cast<int>(count));
      if (error != OPE_OK || opus_sink_failed(sink)) return opus_error("encode", error, sink);
    }
    error = ope_encoder_drain(e);
    if (error != OPE_OK || opus_sink_failed(sink)) return opus_error("finish", error, sink);
    result.bytes = std::move(sink.bytes);
    return result;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "Opus encoder: out of memory");
  }
}

Expected<AudioWriteResult> write_opus(const std::string& path, const AudioBuffer& audio,
                                      const OpusEncodeOptions& options,
                                      const AtomicWriteOptions& atomic) {
  return write_encoded_audio(path, encode_opus(audio, options), atomic);
}

}  // namespace acefit
