// GET /v1/audio?path=, GET / and GET /ui/<file>.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "confine.h"
#include "http_util.h"
#include "routes.h"

#if __has_include("web_assets.h")
#include "web_assets.h"
#define ACEFIT_HAVE_WEB_ASSETS 1
#endif

namespace acefit::server {

namespace {

// One body for every path that is not a finished job's file: missing, never
// written by this server, outside the output folder, malformed (API-10).
void send_no_such_file(httplib::Response& res) {
  send_error(res, 404, "not_found", "path", "no such file");
}

std::string content_type_for(const std::string& path) {
  const auto dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "wav") return "audio/wav";
  if (ext == "flac") return "audio/flac";
  if (ext == "mp3") return "audio/mpeg";
  if (ext == "opus") return "audio/ogg";
  return "application/octet-stream";
}

void audio(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const std::string path = query_value(req, "path");
  // Only a file the store recorded for a succeeded job, byte for byte, that
  // still resolves to itself inside the output folder.
  if (path.empty() || path.size() > 4096 || path.find('\0') != std::string::npos ||
      !state.store.is_output_file(path)) {
    send_no_such_file(res);
    return;
  }
  const std::string canonical = canonical_path(path);
  const std::string root = canonical_path(state.options.output_dir);
  if (canonical.empty() || canonical != path || !path_inside(root, canonical)) {
    send_no_such_file(res);
    return;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    send_no_such_file(res);
    return;
  }
  // Streamed from the open descriptor: a file expired meanwhile still reads
  // whole, and a large file is never held in memory.
  auto file = std::make_shared<int>(fd);
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::string name = path.substr(path.rfind('/') + 1);
  res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
  res.set_content_provider(
      size, content_type_for(path),
      [file](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        char buffer[64 * 1024];
        const std::size_t want = std::min(length, sizeof buffer);
        const ssize_t n = ::pread(*file, buffer, want, static_cast<off_t>(offset));
        if (n <= 0) return false;
        return sink.write(buffer, static_cast<std::size_t>(n));
      },
      [file](bool) { ::close(*file); });
}

void ui(const httplib::Request& req, httplib::Response& res) {
#ifdef ACEFIT_HAVE_WEB_ASSETS
  const WebAsset* asset = find_web_asset(req.path);
  if (asset == nullptr) {
    send_error(res, 404, "not_found", "", "no such file");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(std::string(asset->body), std::string(asset->content_type));
#else
  if (req.path != "/") {
    send_error(res, 404, "not_found", "", "no such file");
    return;
  }
  res.set_content(
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>acefit</title></head>"
      "<body><h1>acefit serve</h1><p>The web UI is not part of this build. The API is at "
      "/release_task, /query_result and /v1/* (docs/SERVER.md).</p></body></html>",
      "text/html; charset=utf-8");
#endif
}

}  // namespace

void register_file_routes(httplib::Server& http, ServerState& state) {
  http.Get("/v1/audio", [&state](const httplib::Request& req, httplib::Response& res) {
    audio(state, req, res);
  });
  http.Get("/", [](const httplib::Request& req, httplib::Response& res) { ui(req, res); });
  http.Get("/ui", [](const httplib::Request& req, httplib::Response& res) { ui(req, res); });
  http.Get("/ui/.*", [](const httplib::Request& req, httplib::Response& res) { ui(req, res); });
}

}  // namespace acefit::server
