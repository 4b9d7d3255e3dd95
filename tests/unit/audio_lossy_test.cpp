// Tests for MP3 (LAME) and Ogg Opus (libopusenc) output: each file is decoded
// by an independent decoder (LAME's hip decoder for MP3, libopusfile for
// Opus) and compared with the input; clamping (OUT-11), encoder failures
// that leave nothing (OUT-12), and the size bound of the free-space check.
#include <gtest/gtest.h>
#include <lame/lame.h>
#include <opus/opusfile.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "io/audio/audio_file.h"
#include "io/audio/mp3.h"
#include "io/audio/opus.h"

namespace acefit {
namespace lossy_test {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

class AudioLossy : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "acefit-lossy-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  bool folder_is_empty() const { return fs::directory_iterator(dir_) == fs::directory_iterator(); }
  fs::path dir_;
};

constexpr double kPi = 3.14159265358979323846;

// Exponential sine sweeps (220 Hz up four octaves over 1.5 s on the left
// or mono channel, 330 Hz up on the right) under a slow swell, well inside
// (-1, 1): not periodic, so the best alignment with the decoded audio is
// unique.
AudioBuffer tones(int channels, int frames, int rate_hz = 48000) {
  AudioBuffer audio;
  audio.channels = channels;
  audio.sample_rate_hz = rate_hz;
  audio.interleaved.resize(static_cast<std::size_t>(frames) * static_cast<std::size_t>(channels));
  constexpr double kSweepS = 1.5;
  const double octaves_ln = std::log(16.0);
  for (int i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate_hz;
    const double swell = 0.75 + 0.25 * std::sin(2 * kPi * 1.3 * t);
    const double sweep = kSweepS / octaves_ln * (std::exp(octaves_ln * t / kSweepS) - 1.0);
    for (int c = 0; c < channels; ++c) {
      const double v = c == 0 ? 0.5 * swell * std::sin(2 * kPi * 220 * sweep)
                              : 0.4 * swell * std::sin(2 * kPi * 330 * sweep + 0.3);
      audio.interleaved[static_cast<std::size_t>(i * channels + c)] = static_cast<float>(v);
    }
  }
  return audio;
}

struct Decoded {
  int rate_hz = 0;
  int channels = 0;
  std::vector<float> interleaved;
  int enc_delay = -1;     // MP3: from the Info tag (-1: none)
  int enc_padding = -1;   // MP3: from the Info tag
  int input_rate_hz = 0;  // Opus: OpusHead's input sample rate
  std::uint64_t frames() const {
    return channels > 0 ? interleaved.size() / static_cast<std::size_t>(channels) : 0;
  }
};

// Decodes MP3 bytes with LAME's hip decoder (mpglib), one frame a call.
Decoded decode_with_hip(Bytes bytes) {
  Decoded out;
  hip_t hip = hip_decode_init();
  EXPECT_NE(hip, nullptr);
  if (!hip) return out;
  std::vector<short> left(1152 * 4);
  std::vector<short> right(1152 * 4);
  mp3data_struct info{};
  std::size_t fed = 0;
  bool first = true;
  for (int guard = 0; guard < 100000; ++guard) {
    // Feed 4 KiB at a time; with all fed, drain with empty calls.
    const std::size_t chunk = std::min<std::size_t>(4096, bytes.size() - fed);
    int n = 0;
    if (first) {
      n = hip_decode1_headersB(hip, bytes.data() + fed, chunk, left.data(), right.data(), &info,
                               &out.enc_delay, &out.enc_padding);
    } else {
      n = hip_decode1_headers(hip, bytes.data() + fed, chunk, left.data(), right.data(), &info);
    }
    fed += chunk;
    if (info.header_parsed) first = false;
    EXPECT_GE(n, 0) << "hip_decode failed";
    if (n < 0) break;
    if (n == 0 && chunk == 0) break;
    if (info.header_parsed) {
      out.rate_hz = info.samplerate;
      out.channels = info.stereo;
    }
    for (int i = 0; i < n; ++i) {
      out.interleaved.push_back(left[static_cast<std::size_t>(i)] / 32768.0f);
      if (out.channels == 2)
        out.interleaved.push_back(right[static_cast<std::size_t>(i)] / 32768.0f);
    }
  }
  hip_decode_exit(hip);
  return out;
}

// Decodes Ogg Opus bytes with libopusfile (which applies the pre-skip and
// the end trim of the last granule position); output is 48 kHz.
Decoded decode_with_opusfile(const Bytes& bytes) {
  Decoded out;
  int error = 0;
  OggOpusFile* file = op_open_memory(bytes.data(), bytes.size(), &error);
  EXPECT_NE(file, nullptr) << "op_open_memory: " << error;
  if (!file) return out;
  out.rate_hz = 48000;
  out.channels = op_channel_count(file, -1);
  out.input_rate_hz = static_cast<int>(op_head(file, -1)->input_sample_rate);
  std::vector<float> buffer(5760 * 2);
  for (;;) {
    const int n = op_read_float(file, buffer.data(), static_cast<int>(buffer.size()), nullptr);
    EXPECT_GE(n, 0) << "op_read_float: " << n;
    if (n <= 0) break;
    out.interleaved.insert(out.interleaved.end(), buffer.begin(),
                           buffer.begin() + n * out.channels);
  }
  op_free(file);
  return out;
}

struct Match {
  long lag = 0;              // decoded frame i + lag matches input frame i
  double correlation = 0.0;  // at that lag, over every channel
  double snr_db = 0.0;
};

// Correlation and SNR of input frames [begin, end) against decoded frames
// shifted by `lag`, over every channel.
Match compare_at(const AudioBuffer& input, const Decoded& decoded, long lag, long begin, long end) {
  const long channels = input.channels;
  double xy = 0.0;
  double xx = 0.0;
  double yy = 0.0;
  double err = 0.0;
  for (long i = begin; i < end && i + lag < static_cast<long>(decoded.frames()); ++i) {
    for (long c = 0; c < channels; ++c) {
      const double x = input.interleaved[static_cast<std::size_t>(i * channels + c)];
      const double y = decoded.interleaved[static_cast<std::size_t>((i + lag) * channels + c)];
      xy += x * y;
      xx += x * x;
      yy += y * y;
      err += (x - y) * (x - y);
    }
  }
  Match m;
  m.lag = lag;
  m.correlation = xx > 0.0 && yy > 0.0 ? xy / std::sqrt(xx * yy) : 0.0;
  m.snr_db = 10.0 * std::log10(xx / std::max(err, 1e-30));
  return m;
}

// The lag in [0, max_lag] that best aligns `decoded` with `input` (searched
// on 8192 frames from 4096 on), then compared over the input's frames
// after the first and before the last 4096 (the edges the encoders fade).
Match best_match(const AudioBuffer& input, const Decoded& decoded, long max_lag) {
  Match best;
  best.correlation = -2.0;
  for (long lag = 0; lag <= max_lag; ++lag) {
    const Match m = compare_at(input, decoded, lag, 4096, 4096 + 8192);
    if (m.correlation > best.correlation) best = m;
  }
  const long frames = static_cast<long>(input.frames());
  return compare_at(input, decoded, best.lag, 4096, frames - 4096);
}

bool is_mp3_start(const Bytes& b) {
  if (b.size() >= 3 && std::memcmp(b.data(), "ID3", 3) == 0) return true;
  return b.size() >= 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0;
}

bool is_ogg_opus_start(const Bytes& b) {
  return b.size() >= 36 && std::memcmp(b.data(), "OggS", 4) == 0 &&
         std::memcmp(b.data() + 28, "OpusHead", 8) == 0;
}

// ---- MP3 --------------------------------------------------------------------

void check_mp3_round_trip(int channels) {
  const int frames = 72000;  // 1.5 s
  const AudioBuffer input = tones(channels, frames);
  auto encoded = encode_mp3(input);
  ASSERT_TRUE(encoded.ok()) << encoded.status().to_string();
  EXPECT_EQ(encoded->clamped_samples, 0u);
  ASSERT_TRUE(is_mp3_start(encoded->bytes));
  // The first frame is LAME's Info tag (CBR), filled in after the flush.
  const std::string head(encoded->bytes.begin(), encoded->bytes.begin() + 64);
  EXPECT_NE(head.find("Info"), std::string::npos);

  const Decoded decoded = decode_with_hip(encoded->bytes);
  EXPECT_EQ(decoded.rate_hz, 48000);
  ASSERT_EQ(decoded.channels, channels);
  // The Info tag records the encoder delay and the padding of the last
  // frame; hip adds its own decoder delay of 529 frames and does not trim.
  // So the decoded length is the input plus both, and trimming them (as a
  // gapless player does) gives the input length exactly.
  ASSERT_GE(decoded.enc_delay, 0);
  ASSERT_GE(decoded.enc_padding, 0);
  EXPECT_EQ(decoded.frames(),
            static_cast<std::uint64_t>(frames + decoded.enc_delay + decoded.enc_padding));
  const Match match = best_match(input, decoded, 4000);
  EXPECT_EQ(match.lag, decoded.enc_delay + 529);
  EXPECT_GT(match.correlation, 0.999);
  EXPECT_GT(match.snr_db, 25.0);
}

TEST_F(AudioLossy, Mp3StereoDecodesToTheInputWithHip) {
  check_mp3_round_trip(2);
}

TEST_F(AudioLossy, Mp3MonoDecodesToTheInputWithHip) {
  check_mp3_round_trip(1);
}

// ---- Opus -------------------------------------------------------------------

void check_opus_round_trip(int channels) {
  const int frames = 72000;  // 1.5 s
  const AudioBuffer input = tones(channels, frames);
  auto encoded = encode_opus(input);
  ASSERT_TRUE(encoded.ok()) << encoded.status().to_string();
  EXPECT_EQ(encoded->clamped_samples, 0u);
  ASSERT_TRUE(is_ogg_opus_start(encoded->bytes));

  const Decoded decoded = decode_with_opusfile(encoded->bytes);
  EXPECT_EQ(decoded.input_rate_hz, 48000);
  ASSERT_EQ(decoded.channels, channels);
  // opusfile removes the pre-skip and trims the end to the last granule
  // position: the decoded length is the input's, aligned with it.
  EXPECT_EQ(decoded.frames(), static_cast<std::uint64_t>(frames));
  const Match match = best_match(input, decoded, 2000);
  EXPECT_EQ(match.lag, 0);
  EXPECT_GT(match.correlation, 0.999);
  EXPECT_GT(match.snr_db, 25.0);
}

TEST_F(AudioLossy, OpusStereoDecodesToTheInputWithOpusfile) {
  check_opus_round_trip(2);
}

TEST_F(AudioLossy, OpusMonoDecodesToTheInputWithOpusfile) {
  check_opus_round_trip(1);
}

TEST_F(AudioLossy, OtherInputRates) {
  // LAME keeps 44.1 kHz; libopusenc resamples to 48 kHz and records 44.1.
  const AudioBuffer input = tones(1, 44100, 44100);
  auto mp3 = encode_mp3(input);
  ASSERT_TRUE(mp3.ok()) << mp3.status().to_string();
  EXPECT_EQ(decode_with_hip(mp3->bytes).rate_hz, 44100);
  auto opus = encode_opus(input);
  ASSERT_TRUE(opus.ok()) << opus.status().to_string();
  const Decoded decoded = decode_with_opusfile(opus->bytes);
  EXPECT_EQ(decoded.input_rate_hz, 44100);
  EXPECT_NEAR(static_cast<double>(decoded.frames()), 48000.0, 48.0);
  // Rates Opus cannot take are refused with the range.
  auto low = encode_opus(tones(1, 400, 4000));
  ASSERT_FALSE(low.ok());
  EXPECT_NE(low.status().message().find("8000..192000"), std::string::npos);
}

// ---- both -------------------------------------------------------------------

TEST_F(AudioLossy, ClampsAndCountsBadSamples) {  // OUT-11
  for (AudioFormat format : {AudioFormat::mp3, AudioFormat::opus}) {
    SCOPED_TRACE(audio_format_name(format));
    AudioBuffer input = tones(2, 24000);
    input.interleaved[1000] = std::numeric_limits<float>::quiet_NaN();
    input.interleaved[2001] = std::numeric_limits<float>::infinity();
    input.interleaved[3000] = -std::numeric_limits<float>::infinity();
    input.interleaved[4001] = 1.5f;
    input.interleaved[5000] = -2.0f;
    const std::string file = path(std::string("clamped.") + audio_format_name(format));
    auto written = write_audio_file(file, input, format);
    ASSERT_TRUE(written.ok()) << written.status().to_string();
    EXPECT_EQ(written->clamped_samples, 5u);
    EXPECT_EQ(written->file_bytes, fs::file_size(file));
    const Bytes bytes = [&] {
      auto encoded = format == AudioFormat::mp3 ? encode_mp3(input) : encode_opus(input);
      return encoded.ok() ? encoded->bytes : Bytes{};
    }();
    const Decoded decoded =
        format == AudioFormat::mp3 ? decode_with_hip(bytes) : decode_with_opusfile(bytes);
    ASSERT_GT(decoded.frames(), 20000u);
    for (float v : decoded.interleaved) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST_F(AudioLossy, FormatNamesAndExtensions) {
  EXPECT_EQ(*audio_format_from_name("mp3"), AudioFormat::mp3);
  EXPECT_EQ(*audio_format_from_name("opus"), AudioFormat::opus);
  EXPECT_STREQ(audio_format_name(AudioFormat::mp3), "mp3");
  EXPECT_STREQ(audio_format_name(AudioFormat::opus), "opus");
  EXPECT_EQ(*audio_format_from_extension("out/Song.MP3"), AudioFormat::mp3);
  EXPECT_EQ(*audio_format_from_extension("song.Opus"), AudioFormat::opus);
  const std::string by_name = audio_format_from_name("aac").status().message();
  EXPECT_NE(by_name.find("mp3 or opus"), std::string::npos) << by_name;
  const std::string by_extension = audio_format_from_extension("song.ogg").status().message();
  EXPECT_NE(by_extension.find(".mp3 or .opus"), std::string::npos) << by_extension;
}

TEST_F(AudioLossy, WriteIntoMissingFolderLeavesNothing) {
  const AudioBuffer input = tones(2, 4800);
  for (AudioFormat format : {AudioFormat::mp3, AudioFormat::opus}) {
    SCOPED_TRACE(audio_format_name(format));
    const std::string file = path("missing/song.out");
    auto written = write_audio_file(file, input, format);
    ASSERT_FALSE(written.ok());
    EXPECT_NE(written.status().message().find("missing"), std::string::npos)
        << written.status().to_string();
    EXPECT_FALSE(fs::exists(path("missing")));
    EXPECT_TRUE(folder_is_empty());
  }
}

TEST_F(AudioLossy, EncoderFailuresLeaveNothing) {  // OUT-12
  const AudioBuffer input = tones(2, 48000);
  const std::size_t mp3_bytes = encode_mp3(input)->bytes.size();
  const std::size_t opus_bytes = encode_opus(input)->bytes.size();
  struct Case {
    AudioFormat format;
    std::int64_t fail_after_bytes;
    const char* stage;
  };
  const Case cases[] = {
      {AudioFormat::mp3, 0, "encode"},
      {AudioFormat::mp3, static_cast<std::int64_t>(mp3_bytes) - 1, "finish"},
      {AudioFormat::opus, 0, "encode"},
      {AudioFormat::opus, static_cast<std::int64_t>(opus_bytes) - 1, "finish"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(audio_format_name(c.format)) + " after " +
                 std::to_string(c.fail_after_bytes));
    const std::string file = path("failed.out");
    Expected<AudioWriteResult> written = Status(ErrorCode::internal, "not run");
    if (c.format == AudioFormat::mp3) {
      Mp3EncodeOptions options;
      options.fail_after_bytes = c.fail_after_bytes;
      written = write_mp3(file, input, options);
    } else {
      OpusEncodeOptions options;
      options.fail_after_bytes = c.fail_after_bytes;
      written = write_opus(file, input, options);
    }
    ASSERT_FALSE(written.ok());
    const std::string message = written.status().message();
    EXPECT_NE(message.find(std::string(c.stage) + " failed"), std::string::npos) << message;
    EXPECT_NE(message.find("failed.out"), std::string::npos) << message;
    EXPECT_TRUE(folder_is_empty());
  }
  // Options the encoders cannot use fail before any work, naming the value.
  Mp3EncodeOptions bad_mp3;
  bad_mp3.bitrate_kbps = 100;
  EXPECT_NE(encode_mp3(input, bad_mp3).status().message().find("100"), std::string::npos);
  OpusEncodeOptions bad_opus;
  bad_opus.bitrate_bps = 1000;
  EXPECT_NE(encode_opus(input, bad_opus).status().message().find("1000"), std::string::npos);
  AudioBuffer three = input;
  three.channels = 3;
  three.interleaved.resize(3 * 1000);
  EXPECT_FALSE(encode_mp3(three).ok());
  EXPECT_FALSE(encode_opus(three).ok());
}

TEST_F(AudioLossy, PlannedBytesBoundTheFile) {
  // White noise at full scale is the hardest input for both encoders.
  for (int channels : {1, 2}) {
    AudioBuffer noise;
    noise.channels = channels;
    noise.interleaved.resize(static_cast<std::size_t>(96000 * channels));
    std::uint32_t state = 12345;
    for (float& v : noise.interleaved) {
      state = state * 1664525u + 1013904223u;
      v = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
    }
    for (AudioFormat format : {AudioFormat::mp3, AudioFormat::opus}) {
      SCOPED_TRACE(std::string(audio_format_name(format)) + " channels " +
                   std::to_string(channels));
      const std::string file = path(std::string("noise.") + audio_format_name(format));
      auto written = write_audio_file(file, noise, format);
      ASSERT_TRUE(written.ok()) << written.status().to_string();
      const std::uint64_t planned =
          planned_audio_file_bytes(noise.frames(), channels, 48000, format);
      EXPECT_GE(planned, written->file_bytes);
      EXPECT_EQ(written->file_bytes, fs::file_size(file));
      // A bound, not a figure far off: within 32x of the file even here,
      // where the fixed slack (one second and 64 KiB) weighs most (Opus at
      // 64 kbit/s mono: about 15x; for ten minutes of stereo about 4x).
      EXPECT_LT(planned, 32 * written->file_bytes);
    }
  }
}

TEST_F(AudioLossy, EmptyAudioMakesAValidMp3AndIsRefusedForOpus) {
  AudioBuffer empty;
  empty.channels = 2;
  auto mp3 = encode_mp3(empty);
  ASSERT_TRUE(mp3.ok()) << mp3.status().to_string();
  EXPECT_TRUE(is_mp3_start(mp3->bytes));
  EXPECT_LE(decode_with_hip(mp3->bytes).frames(), 3u * 1152u);
  auto opus = encode_opus(empty);
  ASSERT_FALSE(opus.ok());
  EXPECT_NE(opus.status().message().find("at least one frame"), std::string::npos);
}

TEST_F(AudioLossy, StreamSinkGetsTheWholeFileInOnePiece) {
  const AudioBuffer input = tones(2, 9600);
  for (AudioFormat format : {AudioFormat::mp3, AudioFormat::opus}) {
    SCOPED_TRACE(audio_format_name(format));
    std::vector<Bytes> pieces;
    const ByteSink sink = [&](std::span<const std::uint8_t> bytes) {
      pieces.emplace_back(bytes.begin(), bytes.end());
      return Status();
    };
    auto written = encode_audio(input, format, sink, "stream");
    ASSERT_TRUE(written.ok()) << written.status().to_string();
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0].size(), written->file_bytes);
    EXPECT_TRUE(format == AudioFormat::mp3 ? is_mp3_start(pieces[0])
                                           : is_ogg_opus_start(pieces[0]));
    const ByteSink failing = [](std::span<const std::uint8_t>) {
      return Status(ErrorCode::io, "sink refused");
    };
    auto refused = encode_audio(input, format, failing, "stream");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("sink refused"), std::string::npos);
  }
}

}  // namespace lossy_test
}  // namespace acefit
