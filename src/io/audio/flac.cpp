#include "io/audio/flac.h"

#include <FLAC/format.h>
#include <FLAC/stream_decoder.h>
#include <FLAC/stream_encoder.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "io/audio/wav.h"

namespace acefit {
namespace {

struct EncoderDeleter {
  void operator()(FLAC__StreamEncoder* e) const { FLAC__stream_encoder_delete(e); }
};
struct DecoderDeleter {
  void operator()(FLAC__StreamDecoder* d) const { FLAC__stream_decoder_delete(d); }
};

// The encoder's output: a growable byte buffer with a position, so libFLAC
// can seek back and rewrite STREAMINFO at finish.
struct MemorySink {
  std::vector<std::uint8_t> bytes;
  std::uint64_t position = 0;
  std::uint64_t accepted = 0;
  std::int64_t fail_after_bytes = -1;
  bool out_of_memory = false;
  bool injected_failure = false;
};

FLAC__StreamEncoderWriteStatus sink_write(const FLAC__StreamEncoder*, const FLAC__byte buffer[],
                                          size_t size, uint32_t, uint32_t, void* client) {
  auto* sink = static_cast<MemorySink*>(client);
  if (sink->fail_after_bytes >= 0 &&
      sink->accepted + size > static_cast<std::uint64_t>(sink->fail_after_bytes)) {
    sink->injected_failure = true;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
  }
  try {
    const std::uint64_t end = sink->position + size;
    if (end > sink->bytes.size()) sink->bytes.resize(end);
    std::memcpy(sink->bytes.data() + sink->position, buffer, size);
    sink->position = end;
    sink->accepted += size;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
  } catch (const std::bad_alloc&) {
    sink->out_of_memory = true;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
  }
}

FLAC__StreamEncoderSeekStatus sink_seek(const FLAC__StreamEncoder*, FLAC__uint64 offset,
                                        void* client) {
  auto* sink = static_cast<MemorySink*>(client);
  if (offset > sink->bytes.size()) return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR;
  sink->position = offset;
  return FLAC__STREAM_ENCODER_SEEK_STATUS_OK;
}

FLAC__StreamEncoderTellStatus sink_tell(const FLAC__StreamEncoder*, FLAC__uint64* offset,
                                        void* client) {
  *offset = static_cast<MemorySink*>(client)->position;
  return FLAC__STREAM_ENCODER_TELL_STATUS_OK;
}

Status encoder_error(const char* stage, FLAC__StreamEncoder* encoder, const MemorySink& sink) {
  if (sink.out_of_memory) {
    return Status(ErrorCode::out_of_memory,
                  std::string("FLAC encoder ") + stage + ": out of memory");
  }
  const FLAC__StreamEncoderState state = FLAC__stream_encoder_get_state(encoder);
  return Status(ErrorCode::io, std::string("FLAC encoder ") + stage +
                                   " failed: " + FLAC__StreamEncoderStateString[state] +
                                   (sink.injected_failure ? " (injected output failure)" : ""));
}

}  // namespace

Expected<EncodedAudio> encode_flac(const AudioBuffer& audio, const FlacEncodeOptions& options) {
  if (audio.channels < 1 || audio.channels > 2) {
    return invalid_argument("FLAC output supports 1 or 2 channels, got " +
                            std::to_string(audio.channels));
  }
  if (audio.interleaved.size() % static_cast<std::size_t>(audio.channels) != 0) {
    return invalid_argument("FLAC input of " + std::to_string(audio.interleaved.size()) +
                            " samples is not a whole number of frames");
  }
  if (options.bits_per_sample != 16 && options.bits_per_sample != 24) {
    return invalid_argument("FLAC bits per sample must be 16 or 24, got " +
                            std::to_string(options.bits_per_sample));
  }
  if (options.compression_level < 0 || options.compression_level > 8) {
    return invalid_argument("FLAC compression level must be 0..8, got " +
                            std::to_string(options.compression_level));
  }
  if (audio.sample_rate_hz < 1 ||
      !FLAC__format_sample_rate_is_valid(static_cast<uint32_t>(audio.sample_rate_hz))) {
    return invalid_argument("FLAC cannot store a sample rate of " +
                            std::to_string(audio.sample_rate_hz) + " Hz");
  }
  try {
    MemorySink sink;  // declared before the encoder: it must outlive it
    sink.fail_after_bytes = options.fail_after_bytes;
    std::unique_ptr<FLAC__StreamEncoder, EncoderDeleter> encoder(FLAC__stream_encoder_new());
    if (!encoder) return Status(ErrorCode::out_of_memory, "FLAC encoder: cannot allocate");
    FLAC__StreamEncoder* e = encoder.get();
    bool set_ok = FLAC__stream_encoder_set_channels(e, static_cast<uint32_t>(audio.channels));
    set_ok = set_ok && FLAC__stream_encoder_set_bits_per_sample(
                           e, static_cast<uint32_t>(options.bits_per_sample));
    set_ok = set_ok &&
             FLAC__stream_encoder_set_sample_rate(e, static_cast<uint32_t>(audio.sample_rate_hz));
    set_ok = set_ok && FLAC__stream_encoder_set_compression_level(
                           e, static_cast<uint32_t>(options.compression_level));
    set_ok = set_ok && FLAC__stream_encoder_set_verify(e, options.verify);
    set_ok = set_ok && FLAC__stream_encoder_set_total_samples_estimate(e, audio.frames());
    if (!set_ok) return encoder_error("setup", e, sink);

    const FLAC__StreamEncoderInitStatus init =
        FLAC__stream_encoder_init_stream(e, sink_write, sink_seek, sink_tell, nullptr, &sink);
    if (init != FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
      Status status = encoder_error("init", e, sink);
      return Status(status.code(),
                    status.message() + " (" + FLAC__StreamEncoderInitStatusString[init] + ")");
    }
    EncodedAudio result;
    constexpr std::size_t kBlockFrames = 4096;
    const std::size_t block_samples = kBlockFrames * static_cast<std::size_t>(audio.channels);
    std::vector<FLAC__int32> block(block_samples);
    for (std::size_t start = 0; start < audio.interleaved.size(); start += block_samples) {
      const std::size_t count = std::min(block_samples, audio.interleaved.size() - start);
      for (std::size_t i = 0; i < count; ++i) {
        block[i] = float_to_pcm(audio.interleaved[start + i], options.bits_per_sample,
                                result.clamped_samples);
      }
      const auto frames = static_cast<uint32_t>(count / static_cast<std::size_t>(audio.channels));
      if (!FLAC__stream_encoder_process_interleaved(e, block.data(), frames)) {
        return encoder_error("process", e, sink);
      }
    }
    if (!FLAC__stream_encoder_finish(e)) return encoder_error("finish", e, sink);
    result.bytes = std::move(sink.bytes);
    return result;
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "FLAC encoder: out of memory");
  }
}

Expected<AudioWriteResult> write_flac(const std::string& path, const AudioBuffer& audio,
                                      const FlacEncodeOptions& options,
                                      const AtomicWriteOptions& atomic) {
  return write_encoded_audio(path, encode_flac(audio, options), atomic);
}

// ---- decoding --------------------------------------------------------------

namespace {

struct DecodeState {
  std::span<const std::uint8_t> input;
  std::uint64_t position = 0;
  const AudioReadLimits* limits = nullptr;
  AudioBuffer audio;
  bool have_streaminfo = false;
  std::uint64_t declared_frames = 0;
  std::string error;  // first problem seen; decoding stops on it
  bool out_of_memory = false;
};

FLAC__StreamDecoderReadStatus source_read(const FLAC__StreamDecoder*, FLAC__byte buffer[],
                                          size_t* bytes, void* client) {
  auto* s = static_cast<DecodeState*>(client);
  const std::uint64_t left = s->input.size() - s->position;
  if (left == 0) {
    *bytes = 0;
    return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
  }
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(*bytes, left));
  std::memcpy(buffer, s->input.data() + s->position, n);
  s->position += n;
  *bytes = n;
  return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
}

FLAC__StreamDecoderSeekStatus source_seek(const FLAC__StreamDecoder*, FLAC__uint64 offset,
                                          void* client) {
  auto* s = static_cast<DecodeState*>(client);
  if (offset > s->input.size()) return FLAC__STREAM_DECODER_SEEK_STATUS_ERROR;
  s->position = offset;
  return FLAC__STREAM_DECODER_SEEK_STATUS_OK;
}

FLAC__StreamDecoderTellStatus source_tell(const FLAC__StreamDecoder*, FLAC__uint64* offset,
                                          void* client) {
  *offset = static_cast<DecodeState*>(client)->position;
  return FLAC__STREAM_DECODER_TELL_STATUS_OK;
}

FLAC__StreamDecoderLengthStatus source_length(const FLAC__StreamDecoder*, FLAC__uint64* length,
                                              void* client) {
  *length = static_cast<DecodeState*>(client)->input.size();
  return FLAC__STREAM_DECODER_LENGTH_STATUS_OK;
}

FLAC__bool source_eof(const FLAC__StreamDecoder*, void* client) {
  auto* s = static_cast<DecodeState*>(client);
  return s->position >= s->input.size();
}

void on_metadata(const FLAC__StreamDecoder*, const FLAC__StreamMetadata* metadata, void* client) {
  auto* s = static_cast<DecodeState*>(client);
  if (metadata->type != FLAC__METADATA_TYPE_STREAMINFO || !s->error.empty()) return;
  const FLAC__StreamMetadata_StreamInfo& info = metadata->data.stream_info;
  if (s->have_streaminfo) {
    s->error = "more than one STREAMINFO block";
    return;
  }
  s->have_streaminfo = true;
  if (info.channels < 1 || info.channels > static_cast<unsigned>(s->limits->max_channels)) {
    s->error = std::to_string(info.channels) + " channels, outside 1.." +
               std::to_string(s->limits->max_channels);
  } else if (info.sample_rate < 1 ||
             info.sample_rate > static_cast<unsigned>(s->limits->max_sample_rate_hz)) {
    s->error = "sample rate " + std::to_string(info.sample_rate) + " Hz is out of range";
  } else if (info.total_samples > s->limits->max_frames) {
    s->error = std::to_string(info.total_samples) + " frames, more than the limit of " +
               std::to_string(s->limits->max_frames);
  }
  s->audio.channels = static_cast<int>(info.channels);
  s->audio.sample_rate_hz = static_cast<int>(info.sample_rate);
  s->declared_frames = info.total_samples;
}

FLAC__StreamDecoderWriteStatus on_frame(const FLAC__StreamDecoder*, const FLAC__Frame* frame,
                                        const FLAC__int32* const buffer[], void* client) {
  auto* s = static_cast<DecodeState*>(client);
  if (!s->error.empty()) return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
  const FLAC__FrameHeader& h = frame->header;
  if (!s->have_streaminfo) {
    s->error = "audio frame before STREAMINFO";
  } else if (static_cast<int>(h.channels) != s->audio.channels) {
    s->error = "a frame has " + std::to_string(h.channels) + " channels, STREAMINFO says " +
               std::to_string(s->audio.channels);
  } else if (h.bits_per_sample < 4 || h.bits_per_sample > 32) {
    s->error = "a frame has " + std::to_string(h.bits_per_sample) + " bits per sample";
  } else if (s->audio.frames() + h.blocksize > s->limits->max_frames) {
    s->error = "more than the limit of " + std::to_string(s->limits->max_frames) + " frames";
  }
  if (!s->error.empty()) return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
  try {
    const double scale = 1.0 / static_cast<double>(std::uint64_t{1} << (h.bits_per_sample - 1));
    const std::size_t channels = h.channels;
    const std::size_t base = s->audio.interleaved.size();
    s->audio.interleaved.resize(base + static_cast<std::size_t>(h.blocksize) * channels);
    float* out = s->audio.interleaved.data() + base;
    for (std::size_t i = 0; i < h.blocksize; ++i) {
      for (std::size_t c = 0; c < channels; ++c) {
        *out++ = static_cast<float>(buffer[c][i] * scale);
      }
    }
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
  } catch (const std::bad_alloc&) {
    s->out_of_memory = true;
    return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
  }
}

void on_error(const FLAC__StreamDecoder*, FLAC__StreamDecoderErrorStatus status, void* client) {
  auto* s = static_cast<DecodeState*>(client);
  if (s->error.empty()) s->error = FLAC__StreamDecoderErrorStatusString[status];
}

}  // namespace

Expected<AudioBuffer> decode_flac(std::span<const std::uint8_t> bytes, const std::string& origin,
                                  const AudioReadLimits& limits) {
  try {
    if (bytes.size() < 4 || std::memcmp(bytes.data(), "fLaC", 4) != 0) {
      return Status(ErrorCode::corrupt, "FLAC '" + origin + "': no fLaC marker");
    }
    DecodeState state;
    state.input = bytes;
    state.limits = &limits;
    std::unique_ptr<FLAC__StreamDecoder, DecoderDeleter> decoder(FLAC__stream_decoder_new());
    if (!decoder) return Status(ErrorCode::out_of_memory, "FLAC decoder: cannot allocate");
    FLAC__StreamDecoder* d = decoder.get();
    FLAC__stream_decoder_set_md5_checking(d, true);
    const FLAC__StreamDecoderInitStatus init =
        FLAC__stream_decoder_init_stream(d, source_read, source_seek, source_tell, source_length,
                                         source_eof, on_frame, on_metadata, on_error, &state);
    if (init != FLAC__STREAM_DECODER_INIT_STATUS_OK) {
      return Status(ErrorCode::internal, "FLAC '" + origin + "': decoder init failed: " +
                                             FLAC__StreamDecoderInitStatusString[init]);
    }
    const bool decoded = FLAC__stream_decoder_process_until_end_of_stream(d);
    if (state.out_of_memory) {
      return Status(ErrorCode::out_of_memory, "FLAC '" + origin + "': out of memory");
    }
    if (!state.error.empty()) {
      return Status(ErrorCode::corrupt, "FLAC '" + origin + "': " + state.error);
    }
    if (!decoded) {
      return Status(ErrorCode::corrupt,
                    "FLAC '" + origin + "': decoding failed: " +
                        FLAC__StreamDecoderStateString[FLAC__stream_decoder_get_state(d)]);
    }
    if (!FLAC__stream_decoder_finish(d)) {
      return Status(ErrorCode::corrupt, "FLAC '" + origin +
                                            "': MD5 of the decoded audio does "
                                            "not match STREAMINFO");
    }
    if (!state.have_streaminfo) {
      return Status(ErrorCode::corrupt, "FLAC '" + origin + "': no STREAMINFO block");
    }
    if (state.declared_frames != 0 && state.declared_frames != state.audio.frames()) {
      return Status(ErrorCode::corrupt, "FLAC '" + origin + "': STREAMINFO declares " +
                                            std::to_string(state.declared_frames) + " frames but " +
                                            std::to_string(state.audio.frames()) +
                                            " were decoded (truncated?)");
    }
    return std::move(state.audio);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::out_of_memory, "FLAC '" + origin + "': out of memory");
  }
}

Expected<AudioBuffer> read_flac(const std::string& path, const AudioReadLimits& limits) {
  ACEFIT_ASSIGN(const std::vector<std::uint8_t> bytes,
                read_file_bytes(path, limits.max_file_bytes));
  return decode_flac(bytes, path, limits);
}

}  // namespace acefit
