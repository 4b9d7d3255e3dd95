// Tests for WAV and FLAC output and input: round trips at 48 kHz stereo, the
// WAV header planner at the RIFF limit (OUT-10), clamping (OUT-11), FLAC
// encoder failures (OUT-12) and the reader's rejection of malformed files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "io/audio/audio_file.h"
#include "io/audio/audio_outputs.h"
#include "io/audio/flac.h"
#include "io/audio/wav.h"

namespace acefit {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

class AudioIo : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "acefit-audio-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::size_t file_count() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

Bytes read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::uint32_t le32(const Bytes& b, std::size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) |
         (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

// 1 s of a two-tone stereo signal within (-1, 1), deterministic.
AudioBuffer test_signal(int frames = 48000) {
  AudioBuffer audio;
  audio.sample_rate_hz = 48000;
  audio.channels = 2;
  audio.interleaved.resize(static_cast<std::size_t>(frames) * 2);
  for (int i = 0; i < frames; ++i) {
    const double t = i / 48000.0;
    audio.interleaved[2 * i] = static_cast<float>(0.8 * std::sin(2 * M_PI * 440 * t));
    audio.interleaved[2 * i + 1] =
        static_cast<float>(0.5 * std::sin(2 * M_PI * 1000 * t) + 0.3 * std::cos(2 * M_PI * 55 * t));
  }
  return audio;
}

void expect_within(const AudioBuffer& got, const AudioBuffer& want, double tolerance) {
  ASSERT_EQ(got.channels, want.channels);
  ASSERT_EQ(got.sample_rate_hz, want.sample_rate_hz);
  ASSERT_EQ(got.interleaved.size(), want.interleaved.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.interleaved.size(); ++i) {
    worst = std::max(worst, std::fabs(double(got.interleaved[i]) - want.interleaved[i]));
  }
  EXPECT_LE(worst, tolerance);
}

TEST_F(AudioIo, Wav16RoundTripAndHeaderFields) {
  const AudioBuffer audio = test_signal();
  auto written = write_wav(path("a.wav"), audio, WavSampleFormat::pcm16);
  ASSERT_TRUE(written.ok()) << written.status().to_string();
  const Bytes b = read_bytes(path("a.wav"));
  ASSERT_EQ(b.size(), 44u + 48000 * 4);
  EXPECT_EQ(written->file_bytes, b.size());
  EXPECT_EQ(std::memcmp(b.data(), "RIFF", 4), 0);
  EXPECT_EQ(le32(b, 4), b.size() - 8);
  EXPECT_EQ(std::memcmp(b.data() + 8, "WAVEfmt ", 8), 0);
  EXPECT_EQ(le32(b, 16), 16u);
  EXPECT_EQ(b[20] | (b[21] << 8), 1);   // PCM
  EXPECT_EQ(b[22] | (b[23] << 8), 2);   // channels
  EXPECT_EQ(le32(b, 24), 48000u);       // rate
  EXPECT_EQ(le32(b, 28), 48000u * 4);   // byte rate
  EXPECT_EQ(b[32] | (b[33] << 8), 4);   // block align
  EXPECT_EQ(b[34] | (b[35] << 8), 16);  // bits
  EXPECT_EQ(std::memcmp(b.data() + 36, "data", 4), 0);
  EXPECT_EQ(le32(b, 40), 48000u * 4);
  // Sample 1 (right channel of frame 0): round(v * 32768), little-endian.
  const auto expected = static_cast<std::int16_t>(std::lrint(audio.interleaved[1] * 32768.0));
  EXPECT_EQ(static_cast<std::int16_t>(b[46] | (b[47] << 8)), expected);
  auto back = read_wav(path("a.wav"));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  expect_within(*back, audio, 0.5 / 32768 + 1e-7);
}

TEST_F(AudioIo, Wav32fAndPcm24RoundTrip) {
  const AudioBuffer audio = test_signal(12345);
  ASSERT_TRUE(write_wav(path("f.wav"), audio, WavSampleFormat::float32).ok());
  auto f = read_wav(path("f.wav"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->interleaved, audio.interleaved);  // bit exact
  const Bytes b = read_bytes(path("f.wav"));
  EXPECT_EQ(b.size(), 58u + 12345 * 8);
  EXPECT_EQ(std::memcmp(b.data() + 38, "fact", 4), 0);
  EXPECT_EQ(le32(b, 46), 12345u);
  ASSERT_TRUE(write_wav(path("p24.wav"), audio, WavSampleFormat::pcm24).ok());
  auto p = read_wav(path("p24.wav"));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  expect_within(*p, audio, 0.5 / 8388608 + 1e-7);
}

TEST_F(AudioIo, MonoOddPcm24GetsPadByte) {
  AudioBuffer mono;
  mono.channels = 1;
  mono.interleaved = {0.25f, -0.5f, 0.75f};
  ASSERT_TRUE(write_wav(path("m.wav"), mono, WavSampleFormat::pcm24).ok());
  const Bytes b = read_bytes(path("m.wav"));
  EXPECT_EQ(b.size(), 44u + 9 + 1);
  EXPECT_EQ(le32(b, 4), b.size() - 8);
  EXPECT_EQ(le32(b, 40), 9u);
  auto back = read_wav(path("m.wav"));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->interleaved, mono.interleaved);
}

// OUT-10: the last frame count that fits a plain RIFF, and one more.
TEST(WavPlan, RiffLimitForPcm16Stereo) {
  const std::uint64_t header = 44, per_frame = 4;
  const std::uint64_t max_frames = (0xFFFFFFFFull - (header - 8)) / per_frame;
  EXPECT_EQ(max_frames, 1073741814u);  // about 6 h 13 min at 48 kHz
  auto at = plan_wav(max_frames, 2, 48000, WavSampleFormat::pcm16);
  ASSERT_TRUE(at.ok());
  EXPECT_FALSE(at->rf64);
  EXPECT_EQ(at->data_bytes, max_frames * 4);
  EXPECT_EQ(at->riff_size, 36 + max_frames * 4);
  EXPECT_LE(at->riff_size, kWavMaxRiffSize);
  EXPECT_EQ(at->file_bytes, at->riff_size + 8);
  const std::vector<std::uint8_t> h = wav_header(*at);
  ASSERT_EQ(h.size(), 44u);
  EXPECT_EQ(std::memcmp(h.data(), "RIFF", 4), 0);
  EXPECT_EQ(le32(h, 4), at->riff_size);
  EXPECT_EQ(le32(h, 40), at->data_bytes);

  auto over = plan_wav(max_frames + 1, 2, 48000, WavSampleFormat::pcm16);
  ASSERT_TRUE(over.ok());
  EXPECT_TRUE(over->rf64);
  EXPECT_EQ(over->header_bytes, 44u + 36);
  EXPECT_EQ(over->data_bytes, (max_frames + 1) * 4);
  EXPECT_EQ(over->riff_size, 72 + over->data_bytes);
  EXPECT_GT(over->riff_size, kWavMaxRiffSize);
  const std::vector<std::uint8_t> r = wav_header(*over);
  ASSERT_EQ(r.size(), 80u);
  EXPECT_EQ(std::memcmp(r.data(), "RF64", 4), 0);
  EXPECT_EQ(le32(r, 4), 0xFFFFFFFFu);
  EXPECT_EQ(std::memcmp(r.data() + 12, "ds64", 4), 0);
  EXPECT_EQ(le32(r, 16), 28u);
  EXPECT_EQ(le32(r, 20) | (std::uint64_t{le32(r, 24)} << 32), over->riff_size);
  EXPECT_EQ(le32(r, 28) | (std::uint64_t{le32(r, 32)} << 32), over->data_bytes);
  EXPECT_EQ(le32(r, 36) | (std::uint64_t{le32(r, 40)} << 32), max_frames + 1);
  EXPECT_EQ(std::memcmp(r.data() + 72, "data", 4), 0);
  EXPECT_EQ(le32(r, 76), 0xFFFFFFFFu);
}

TEST(WavPlan, RiffLimitForFloat32Stereo) {
  const std::uint64_t max_frames = (0xFFFFFFFFull - 50) / 8;
  EXPECT_EQ(max_frames, 536870905u);  // about 3 h 6 min at 48 kHz
  auto at = plan_wav(max_frames, 2, 48000, WavSampleFormat::float32);
  ASSERT_TRUE(at.ok());
  EXPECT_FALSE(at->rf64);
  EXPECT_EQ(at->riff_size, 50 + max_frames * 8);
  auto over = plan_wav(max_frames + 1, 2, 48000, WavSampleFormat::float32);
  ASSERT_TRUE(over.ok());
  EXPECT_TRUE(over->rf64);
  EXPECT_EQ(over->riff_size, 50 + 36 + (max_frames + 1) * 8);
  // 12 hours of float32 fits in 64 bits easily; absurd sizes are refused.
  EXPECT_TRUE(plan_wav(48000ull * 3600 * 12, 2, 48000, WavSampleFormat::float32).ok());
  EXPECT_FALSE(plan_wav(1ull << 62, 2, 48000, WavSampleFormat::float32).ok());
  EXPECT_FALSE(plan_wav(10, 0, 48000, WavSampleFormat::pcm16).ok());
  EXPECT_FALSE(plan_wav(10, 3, 48000, WavSampleFormat::pcm16).ok());
  EXPECT_FALSE(plan_wav(10, 2, 0, WavSampleFormat::pcm16).ok());
  EXPECT_FALSE(plan_wav(10, 2, 2000000000, WavSampleFormat::float32).ok());  // byte rate
}

// A small RF64 file built by hand, to read back through the RF64 path.
TEST(WavRead, ReadsRf64) {
  Bytes b;
  b.reserve(128);  // also keeps GCC 12's -Wstringop-overflow false positive away at -O1
  auto id = [&](const char* s) { b.insert(b.end(), s, s + 4); };
  auto u16 = [&](std::uint16_t v) { b.push_back(v & 0xFF), b.push_back(v >> 8); };
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back((v >> (8 * i)) & 0xFF);
  };
  auto u64 = [&](std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v)), u32(static_cast<std::uint32_t>(v >> 32));
  };
  id("RF64"), u32(0xFFFFFFFF), id("WAVE");
  id("ds64"), u32(28), u64(80 + 8 - 8), u64(8), u64(2), u32(0);
  id("fmt "), u32(16), u16(1), u16(2), u32(44100), u32(44100 * 4), u16(4), u16(16);
  id("data"), u32(0xFFFFFFFF);
  for (const std::int16_t s :
       {std::int16_t(16384), std::int16_t(-32768), std::int16_t(1), std::int16_t(0)}) {
    u16(static_cast<std::uint16_t>(s));
  }
  ASSERT_EQ(b.size(), 88u);
  auto audio = parse_wav(b, "rf64");
  ASSERT_TRUE(audio.ok()) << audio.status().to_string();
  EXPECT_EQ(audio->sample_rate_hz, 44100);
  EXPECT_EQ(audio->interleaved, (std::vector<float>{0.5f, -1.0f, 1.0f / 32768, 0.0f}));
  b[28] = 9;  // ds64 data size 9: past the end
  EXPECT_NE(parse_wav(b, "rf64").status().message().find("declares 9 bytes"), std::string::npos);
}

// OUT-11: NaN, +-Inf and out-of-range values are clamped and counted.
TEST_F(AudioIo, ClampsAndCountsBadSamples) {
  const float inf = std::numeric_limits<float>::infinity();
  AudioBuffer audio;
  audio.channels = 2;
  audio.interleaved = {std::nanf(""), inf, -inf, 1.5f, -1.5f, 1.0f, -1.0f, 0.5f};
  auto w16 = write_wav(path("c16.wav"), audio, WavSampleFormat::pcm16);
  ASSERT_TRUE(w16.ok());
  EXPECT_EQ(w16->clamped_samples, 5u);
  auto back = read_wav(path("c16.wav"));
  ASSERT_TRUE(back.ok());
  const float top = 32767.0f / 32768;
  EXPECT_EQ(back->interleaved, (std::vector<float>{0, top, -1, top, -1, top, -1, 0.5f}));
  auto wf = write_wav(path("cf.wav"), audio, WavSampleFormat::float32);
  ASSERT_TRUE(wf.ok());
  EXPECT_EQ(wf->clamped_samples, 3u);
  auto backf = read_wav(path("cf.wav"));
  ASSERT_TRUE(backf.ok()) << backf.status().to_string();
  EXPECT_EQ(backf->interleaved, (std::vector<float>{0, 1, -1, 1.5f, -1.5f, 1, -1, 0.5f}));
  auto fl = write_audio_file(path("c.flac"), audio, AudioFormat::flac16);
  ASSERT_TRUE(fl.ok()) << fl.status().to_string();
  EXPECT_EQ(fl->clamped_samples, 5u);
}

TEST(WavQuantize, NeverLeavesTheIntegerRange) {
  const float specials[] = {0.0f,
                            -0.0f,
                            FLT_MIN,
                            -FLT_MIN,
                            FLT_MAX,
                            -FLT_MAX,
                            1e-45f,
                            0.99999994f,
                            -0.99999994f,
                            1.0000001f,
                            32767.5f / 32768,
                            -32768.5f / 32768,
                            std::numeric_limits<float>::infinity(),
                            std::nanf("")};
  for (const int bits : {16, 24}) {
    const std::int32_t high = (1 << (bits - 1)) - 1;
    std::uint64_t clamped = 0;
    for (const float s : specials) {
      const std::int32_t v = float_to_pcm(s, bits, clamped);
      EXPECT_LE(v, high);
      EXPECT_GE(v, -high - 1);
    }
    for (int i = -70000; i <= 70000; ++i) {
      const std::int32_t v = float_to_pcm(i / 65536.0f, bits, clamped);
      EXPECT_LE(v, high);
      EXPECT_GE(v, -high - 1);
    }
  }
}

TEST_F(AudioIo, FlacRoundTripMatchesPcmQuantization) {
  const AudioBuffer audio = test_signal();
  ASSERT_TRUE(write_wav(path("ref16.wav"), audio, WavSampleFormat::pcm16).ok());
  ASSERT_TRUE(write_wav(path("ref24.wav"), audio, WavSampleFormat::pcm24).ok());
  for (const AudioFormat format : {AudioFormat::flac16, AudioFormat::flac24}) {
    const std::string name = std::string(audio_format_name(format)) + ".flac";
    auto written = write_audio_file(path(name), audio, format);
    ASSERT_TRUE(written.ok()) << written.status().to_string();
    const Bytes b = read_bytes(path(name));
    EXPECT_EQ(b.size(), written->file_bytes);
    EXPECT_EQ(std::memcmp(b.data(), "fLaC", 4), 0);
    EXPECT_LT(b.size(), 48000u * 4);  // it compressed
    auto back = read_audio_file(path(name));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    auto pcm = read_wav(path(format == AudioFormat::flac16 ? "ref16.wav" : "ref24.wav"));
    ASSERT_TRUE(pcm.ok());
    EXPECT_EQ(back->interleaved, pcm->interleaved);  // lossless: same integers
    expect_within(*back, audio, format == AudioFormat::flac16 ? 0.5 / 32768 + 1e-7 : 1e-6);
  }
}

// OUT-12: failures at init, process and finish leave no file and no temp.
TEST_F(AudioIo, FlacEncoderFailuresLeaveNothing) {
  struct Case {
    int frames;
    std::int64_t fail_after;
    const char* stage;
  };
  const Case cases[] = {{48000, 0, "init"}, {48000, 200, "process"}, {1000, 100, "finish"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.stage);
    for (const bool existing : {false, true}) {
      std::error_code ignored;
      fs::remove(path("out.flac"), ignored);
      if (existing) std::ofstream(path("out.flac")) << "old";
      FlacEncodeOptions options;
      options.fail_after_bytes = c.fail_after;
      auto result = write_flac(path("out.flac"), test_signal(c.frames), options);
      ASSERT_FALSE(result.ok());
      EXPECT_NE(result.status().message().find(std::string("FLAC encoder ") + c.stage),
                std::string::npos)
          << result.status().to_string();
      EXPECT_NE(result.status().message().find(path("out.flac")), std::string::npos);
      EXPECT_EQ(file_count(), existing ? 1u : 0u);
      if (existing) {
        EXPECT_EQ(read_bytes(path("out.flac")), (Bytes{'o', 'l', 'd'}));
      }
    }
  }
}

TEST_F(AudioIo, WavWriteFailureThroughShim) {
  FaultInjectingFileSystem shim;
  shim.fail_nth(FileOp::write, 2, ENOSPC);
  AtomicWriteOptions options;
  options.fs = &shim;
  auto result = write_audio_file(path("x.wav"), test_signal(40000), AudioFormat::wav16, options);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("disk_full"), std::string::npos);
  EXPECT_EQ(file_count(), 0u);
}

TEST_F(AudioIo, FlacDecoderRejectsDamage) {
  auto encoded = encode_flac(test_signal(20000));
  ASSERT_TRUE(encoded.ok());
  Bytes b = encoded->bytes;
  Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(b.size() / 2));
  EXPECT_FALSE(decode_flac(cut, "cut").ok());
  b[b.size() / 2] ^= 0x55;
  EXPECT_FALSE(decode_flac(b, "flipped").ok());
  EXPECT_FALSE(decode_flac(Bytes{'f', 'L', 'a', 'C'}, "empty").ok());
  EXPECT_FALSE(decode_flac(Bytes{'R', 'I', 'F', 'F'}, "wav").ok());
  AudioReadLimits small;
  small.max_frames = 1000;
  EXPECT_NE(decode_flac(encoded->bytes, "long", small).status().message().find("limit"),
            std::string::npos);
}

TEST(AudioFormatChoice, ByNameAndExtension) {
  EXPECT_EQ(*audio_format_from_name("wav32f"), AudioFormat::wav32f);
  EXPECT_EQ(*audio_format_from_name("flac24"), AudioFormat::flac24);
  EXPECT_FALSE(audio_format_from_name("aac").ok());
  EXPECT_EQ(*audio_format_from_extension("a/b.WAV"), AudioFormat::wav16);
  EXPECT_EQ(*audio_format_from_extension("song.flac"), AudioFormat::flac16);
  EXPECT_FALSE(audio_format_from_extension("dir.wav/song").ok());
  EXPECT_FALSE(audio_format_from_extension("song.ogg").ok());
}

// ---- WAV reader on malformed input -----------------------------------------

Bytes good_wav() {
  AudioBuffer audio;
  audio.channels = 2;
  audio.interleaved = {0.1f, 0.2f, 0.3f, 0.4f};
  Bytes b;
  auto plan = plan_wav(2, 2, 48000, WavSampleFormat::pcm16);
  b = wav_header(*plan);
  b.resize(b.size() + 8);
  encode_wav_samples(audio.interleaved, WavSampleFormat::pcm16, b.data() + 44);
  return b;
}

void expect_rejected(const Bytes& b, const std::string& fragment) {
  auto r = parse_wav(b, "bad.wav");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("bad.wav"), std::string::npos);
}

void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

TEST(WavRead, RejectsMalformedFiles) {
  ASSERT_TRUE(parse_wav(good_wav(), "good").ok());
  Bytes b = good_wav();
  b.resize(b.size() - 2);
  expect_rejected(b, "truncated");
  b = good_wav();
  b[22] = 0;  // channels
  expect_rejected(b, "channel count is 0");
  b = good_wav();
  put32(b, 24, 0);
  expect_rejected(b, "sample rate is 0");
  b = good_wav();
  put32(b, 40, 1000);  // data chunk larger than the file
  expect_rejected(b, "declares 1000 bytes");
  b = good_wav();
  put32(b, 16, 0x7FFFFFF0);  // fmt chunk larger than the file
  expect_rejected(b, "declares");
  b = good_wav();
  put32(b, 40, 6);
  put32(b, 4, 36 + 6);
  b.resize(44 + 6);
  expect_rejected(b, "whole number");
  b = good_wav();
  b[32] = 3;  // block align
  expect_rejected(b, "block_align");
  b = good_wav();
  b[20] = 2;  // ADPCM
  EXPECT_EQ(parse_wav(b, "adpcm").status().code(), ErrorCode::unsupported);
  b = good_wav();
  std::memcpy(b.data() + 12, "junk", 4);  // fmt renamed: data comes first
  expect_rejected(b, "data chunk before the fmt chunk");
  b = good_wav();
  std::memcpy(b.data() + 36, "junk", 4);
  expect_rejected(b, "no data chunk");
  b = good_wav();
  std::memcpy(b.data(), "RIFX", 4);
  expect_rejected(b, "not a RIFF");
  expect_rejected(Bytes{'R', 'I'}, "< 12");
  b = good_wav();
  b[22] = 9;
  b[32] = 18;
  EXPECT_EQ(parse_wav(b, "many").status().code(), ErrorCode::unsupported);
  AudioReadLimits limits;
  limits.max_frames = 1;
  EXPECT_NE(parse_wav(good_wav(), "long", limits).status().message().find("limit"),
            std::string::npos);
}

TEST(WavRead, ReadsExtensibleAnd8Bit) {
  Bytes b = good_wav();
  // Rewrite as WAVE_FORMAT_EXTENSIBLE with a 40-byte fmt chunk.
  Bytes ext(b.begin(), b.begin() + 36);
  put32(ext, 16, 40);
  ext[20] = 0xFE, ext[21] = 0xFF;
  const std::uint8_t tail[] = {22, 0, 16,   0, 3,    0, 0, 0,    1, 0,    0,    0,
                               0,  0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71};
  ext.insert(ext.end(), std::begin(tail), std::end(tail));
  ext.insert(ext.end(), b.begin() + 36, b.end());
  put32(ext, 4, static_cast<std::uint32_t>(ext.size() - 8));
  auto plain = parse_wav(b, "plain");
  auto extensible = parse_wav(ext, "ext");
  ASSERT_TRUE(extensible.ok()) << extensible.status().to_string();
  EXPECT_EQ(extensible->interleaved, plain->interleaved);
  ext[24 + 20] = 0x7F;  // break the GUID
  EXPECT_EQ(parse_wav(ext, "ext").status().code(), ErrorCode::unsupported);

  Bytes eight = good_wav();
  eight[28] = 0x80, eight[29] = 0x77, eight[30] = 1;  // byte rate (unused)
  eight[32] = 2, eight[34] = 8;
  eight[44] = 0, eight[45] = 128, eight[46] = 255, eight[47] = 192;
  put32(eight, 40, 8);
  auto e = parse_wav(eight, "8bit");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->interleaved[0], -1.0f);
  EXPECT_EQ(e->interleaved[1], 0.0f);
  EXPECT_EQ(e->interleaved[2], 127.0f / 128);
  EXPECT_EQ(e->interleaved[3], 0.5f);
}

TEST(WavRead, RejectsNonFiniteFloatSamples) {
  AudioBuffer audio;
  audio.channels = 1;
  audio.interleaved = {0.5f};
  auto plan = plan_wav(1, 1, 48000, WavSampleFormat::float32);
  Bytes b = wav_header(*plan);
  const float nan = std::nanf("");
  std::uint8_t raw[4];
  std::memcpy(raw, &nan, 4);
  b.insert(b.end(), raw, raw + 4);
  EXPECT_NE(parse_wav(b, "nan").status().message().find("not a finite"), std::string::npos);
}

// ---- outputs of a run: planned sizes, destination checks, all-or-none ----

TEST_F(AudioIo, PlannedSizeIsExactForWavAndBoundsFlac) {
  const AudioBuffer audio = test_signal(48000);
  for (AudioFormat format :
       {AudioFormat::wav16, AudioFormat::wav32f, AudioFormat::flac16, AudioFormat::flac24}) {
    const std::string p = path(std::string("p-") + audio_format_name(format));
    ASSERT_TRUE(write_audio_file(p, audio, format).ok());
    const auto planned = planned_audio_file_bytes(audio.frames(), 2, 48000, format);
    const auto actual = static_cast<std::uint64_t>(fs::file_size(p));
    if (format == AudioFormat::wav16 || format == AudioFormat::wav32f) {
      EXPECT_EQ(planned, actual) << audio_format_name(format);
    } else {
      EXPECT_GE(planned, actual) << audio_format_name(format);
    }
  }
  // White noise barely compresses: still within the FLAC bound.
  AudioBuffer noise = test_signal(48000);
  std::uint32_t state = 1;
  for (float& v : noise.interleaved) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / 8388608.0f - 1.0f;
  }
  ASSERT_TRUE(write_audio_file(path("noise.flac"), noise, AudioFormat::flac24).ok());
  EXPECT_GE(planned_audio_file_bytes(48000, 2, 48000, AudioFormat::flac24),
            fs::file_size(path("noise.flac")));
}

TEST_F(AudioIo, OutputPlanRefusesBadDestinationsBeforeAnyWork) {
  // A missing folder, a folder as the name, a batch item that is a folder.
  auto missing = plan_outputs(path("no-such/out.wav"), 1, false, AudioFormat::wav16, 48000, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no-such"), std::string::npos);
  EXPECT_FALSE(plan_outputs(dir_.string(), 1, false, AudioFormat::wav16, 48000, false).ok());
  fs::create_directory(path("b-2.wav"));
  auto item_folder = plan_outputs(path("b.wav"), 2, true, AudioFormat::wav16, 48000, false);
  ASSERT_FALSE(item_folder.ok());
  EXPECT_NE(item_folder.status().message().find("b-2.wav"), std::string::npos);
  // --no-overwrite: an existing item is refused up front.
  std::ofstream(path("c.wav")) << "old";
  EXPECT_TRUE(plan_outputs(path("c.wav"), 1, false, AudioFormat::wav16, 48000, false).ok());
  EXPECT_FALSE(plan_outputs(path("c.wav"), 1, false, AudioFormat::wav16, 48000, true).ok());
  // Not enough space for the whole batch (exact WAV size: 44 + frames * 4).
  FaultInjectingFileSystem shim;
  shim.set_free_bytes(2 * (44 + 48000 * 4) - 1);
  auto full = plan_outputs(path("d.wav"), 2, true, AudioFormat::wav16, 48000, false, &shim);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("bytes free"), std::string::npos);
  shim.set_free_bytes(2 * (44 + 48000 * 4));
  auto fits = plan_outputs(path("d.wav"), 2, true, AudioFormat::wav16, 48000, false, &shim);
  ASSERT_TRUE(fits.ok()) << fits.status().to_string();
  EXPECT_EQ(fits->paths, (std::vector<std::string>{path("d-1.wav"), path("d-2.wav")}));
  // A stream takes one item, never a batch; sockets are refused.
  auto stream = plan_outputs("/dev/null", 1, false, AudioFormat::wav16, 48000, false);
  ASSERT_TRUE(stream.ok());
  EXPECT_TRUE(stream->stream);
  EXPECT_FALSE(plan_outputs("/dev/null", 2, true, AudioFormat::wav16, 48000, false).ok());
  EXPECT_EQ(file_count(), 2u);  // b-2.wav and c.wav: nothing written
}

TEST_F(AudioIo, BatchFailureOnItemTwoLeavesNoItemOneAndKeepsTheOldOne) {
  std::ofstream(path("e-1.wav")) << "old item 1";
  auto plan = plan_outputs(path("e.wav"), 2, true, AudioFormat::wav16, 4800, false);
  ASSERT_TRUE(plan.ok());
  const auto item = [](int) { return test_signal(4800); };
  for (const FileOp op : {FileOp::open, FileOp::write, FileOp::fsync}) {
    FaultInjectingFileSystem shim;
    // The second open is item 2's temp file; its first write, its fsync.
    shim.fail_nth(op, op == FileOp::write ? 3 : 2, ENOSPC);
    const OutputReport report = write_outputs(*plan, 2, item, &shim);
    EXPECT_FALSE(report.status.ok());
    EXPECT_TRUE(report.written.empty());
    EXPECT_EQ(file_count(), 1u) << "op " << static_cast<int>(op);  // only the old e-1.wav
    std::ifstream in(path("e-1.wav"));
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "old item 1");
  }
  // A rename failing on item 2 (after item 1's): reported exactly.
  FaultInjectingFileSystem shim;
  shim.fail_nth(FileOp::rename, 2, EIO);
  const OutputReport report = write_outputs(*plan, 2, item, &shim);
  EXPECT_FALSE(report.status.ok());
  EXPECT_EQ(report.written, std::vector<std::string>{path("e-1.wav")});
  EXPECT_EQ(file_count(), 1u);  // the new e-1.wav, no temp, no e-2.wav
  // All good: both, and the report lists both.
  const OutputReport good = write_outputs(*plan, 2, item);
  ASSERT_TRUE(good.status.ok()) << good.status.to_string();
  EXPECT_EQ(good.written, plan->paths);
}

TEST_F(AudioIo, NoOverwriteRaceAtCommitRemovesWhatWasLinked) {
  auto plan = plan_outputs(path("f.wav"), 2, true, AudioFormat::wav16, 4800, true);
  ASSERT_TRUE(plan.ok());
  // Another writer takes item 2's name after the check, before the commit.
  const auto race = [this] { std::ofstream(path("f-2.wav")) << "theirs"; };
  const OutputReport report = write_outputs(
      *plan, 2, [](int) { return test_signal(4800); }, nullptr, race);
  ASSERT_FALSE(report.status.ok());
  EXPECT_NE(report.status.message().find("output_exists"), std::string::npos);
  EXPECT_TRUE(report.written.empty());
  EXPECT_EQ(file_count(), 1u);  // only theirs
  std::ifstream in(path("f-2.wav"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "theirs");
}

}  // namespace
}  // namespace acefit
