// The web UI's files (tools/server/webui/), embedded in the binary at build
// time by tools/server/webui/embed.cmake: `acefit serve` answers GET / and
// GET /ui/<file> from here, so the UI needs nothing outside the binary.
#pragma once

#include <span>
#include <string_view>

namespace acefit::server {

struct WebAsset {
  std::string_view path;          // "/ui/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes
};

// The asset served at `path` (a request path without its query), or nullptr.
// "/", "/ui" and "/ui/" are /ui/index.html. Paths match exactly: no
// decoding, no normalisation, so nothing outside the embedded set is
// reachable.
const WebAsset* find_web_asset(std::string_view path);

// Every embedded asset.
std::span<const WebAsset> web_assets();

}  // namespace acefit::server
