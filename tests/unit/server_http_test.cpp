// The HTTP layer's helpers of acefit serve: path confinement (API-10,
// API-11), the constant-time key check, loopback detection, URL encoding
// and the echo of client text in errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "confine.h"
#include "http_server.h"
#include "http_util.h"
#include "io/text/text_input.h"

namespace acefit::server {
namespace {

class ConfineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        std::filesystem::temp_directory_path() / ("acefit-confine-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "in" / "sub");
    std::filesystem::create_directories(root_.string() + "/in_evil");
    std::ofstream(root_ / "in" / "a.wav") << "x";
    std::ofstream(root_ / "in" / "sub" / "b.wav") << "x";
    std::ofstream(root_.string() + "/in_evil/x.wav") << "x";
    std::ofstream(root_ / "outside.wav") << "x";
    std::filesystem::create_symlink(root_ / "outside.wav", root_ / "in" / "link.wav");
    std::filesystem::create_symlink(root_ / "in" / "a.wav", root_ / "in" / "inner.wav");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string in() const { return (root_ / "in").string(); }
  std::filesystem::path root_;
};

TEST_F(ConfineTest, AcceptsFilesInsideTheFolder) {
  std::string why;
  const auto a = confine_path(in(), "a.wav", why);
  ASSERT_TRUE(a.has_value()) << why;
  EXPECT_EQ(*a, canonical_path(in() + "/a.wav"));
  EXPECT_TRUE(confine_path(in(), "sub/b.wav", why).has_value()) << why;
  // A symlink that stays inside is fine.
  EXPECT_TRUE(confine_path(in(), "inner.wav", why).has_value()) << why;
}

TEST_F(ConfineTest, RefusesEverythingElse) {
  const std::vector<std::string> cases = {"",
                                          "../outside.wav",
                                          "sub/../a.wav",
                                          "./a.wav",
                                          "/etc/passwd",
                                          "sub//b.wav",
                                          "sub/",
                                          "..\\outside.wav",
                                          std::string("a.wav\0.flac", 11),
                                          "a\n.wav",
                                          "link.wav",
                                          "../in_evil/x.wav",
                                          "missing.wav",
                                          std::string(1100, 'a')};
  for (const std::string& bad : cases) {
    std::string why;
    EXPECT_FALSE(confine_path(in(), bad, why).has_value()) << "accepted '" << bad << "'";
    EXPECT_FALSE(why.empty());
  }
}

TEST(PathInside, ComparesWholeComponents) {
  EXPECT_TRUE(path_inside("/tmp", "/tmp/x.wav"));
  EXPECT_TRUE(path_inside("/tmp/", "/tmp/a/b"));
  EXPECT_FALSE(path_inside("/tmp", "/tmp_evil/x.wav"));
  EXPECT_FALSE(path_inside("/tmp", "/tm"));
  EXPECT_FALSE(path_inside("", "/tmp"));
}

TEST(ServerAuth, KeyMatchesOnlyTheWholeKey) {
  EXPECT_TRUE(key_matches("secret", "secret"));
  EXPECT_FALSE(key_matches("secret", "secre"));
  EXPECT_FALSE(key_matches("secret", "secret2"));
  EXPECT_FALSE(key_matches("secret", "Secret"));
  EXPECT_FALSE(key_matches("secret", ""));
  EXPECT_FALSE(key_matches("", ""));  // no key configured never "matches"
}

TEST(ServerHost, LoopbackAddresses) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.2"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.evil.example"));
}

TEST(ServerText, UrlEncodeAndPrintable) {
  EXPECT_EQ(url_encode("/srv/out/ab-1.wav"), "/srv/out/ab-1.wav");
  EXPECT_EQ(url_encode("a b&c=d%"), "a%20b%26c%3Dd%25");
  EXPECT_EQ(printable_text("a\nb\"c"), "a\\x0ab\\x22c");
  EXPECT_EQ(printable_text(std::string(100, 'x'), 4), "xxxx...");
}

}  // namespace
}  // namespace acefit::server
