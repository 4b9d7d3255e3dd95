// The web UI embedded in the server (tools/server/web_assets.h).
#include "web_assets.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace acefit::server {
namespace {

TEST(WebAssets, RootAndUiFolderServeTheIndexPage) {
  for (const char* path : {"/", "/ui", "/ui/", "/ui/index.html"}) {
    const WebAsset* asset = find_web_asset(path);
    ASSERT_NE(asset, nullptr) << path;
    EXPECT_EQ(asset->path, "/ui/index.html");
    EXPECT_EQ(asset->content_type, "text/html; charset=utf-8");
    EXPECT_NE(asset->body.find("<!doctype html>"), std::string_view::npos);
  }
}

TEST(WebAssets, ScriptAndStyleHaveTheirContentTypes) {
  const WebAsset* script = find_web_asset("/ui/app.js");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  const WebAsset* style = find_web_asset("/ui/style.css");
  ASSERT_NE(style, nullptr);
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
}

TEST(WebAssets, OnlyExactPathsMatch) {
  for (const char* path :
       {"", "/index.html", "/ui/missing.js", "/ui/../ui/app.js", "//ui/app.js", "/ui/app.js?v=1",
        "/ui/app.js/", "/UI/app.js", "/ui/%61pp.js", "/ui/./app.js", "/etc/passwd", "/ui/app.j"}) {
    EXPECT_EQ(find_web_asset(path), nullptr) << path;
  }
}

// Every /ui/ file the page refers to is embedded, and no asset loads
// anything from outside the binary.
TEST(WebAssets, PageReferencesResolveAndNothingIsExternal) {
  const WebAsset* index = find_web_asset("/");
  ASSERT_NE(index, nullptr);
  const std::string page(index->body);
  // Every href="..." and src="..." value.
  std::vector<std::string> targets;
  for (const std::string attribute : {"href=\"", "src=\""}) {
    for (std::size_t at = page.find(attribute); at != std::string::npos;
         at = page.find(attribute, at + 1)) {
      // Only the attribute itself (" src=", not "data-src=").
      if (at > 0 && page[at - 1] != ' ' && page[at - 1] != '\n') continue;
      const std::size_t start = at + attribute.size();
      const std::size_t end = page.find('"', start);
      ASSERT_NE(end, std::string::npos);
      targets.push_back(page.substr(start, end - start));
    }
  }
  int references = 0;
  for (const std::string& target : targets) {
    EXPECT_EQ(target.rfind("/ui/", 0), 0u) << target;
    EXPECT_NE(find_web_asset(target), nullptr) << target;
    ++references;
  }
  EXPECT_GE(references, 2);
  for (const WebAsset& asset : web_assets()) {
    std::string body(asset.body);
    // The SVG namespace is a name, not a resource.
    const std::string svg_namespace = "http://www.w3.org/2000/svg";
    for (std::size_t at = body.find(svg_namespace); at != std::string::npos;
         at = body.find(svg_namespace)) {
      body.erase(at, svg_namespace.size());
    }
    EXPECT_EQ(body.find("http://"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("https://"), std::string::npos) << asset.path;
    EXPECT_EQ(body.find("//cdn"), std::string::npos) << asset.path;
  }
}

}  // namespace
}  // namespace acefit::server
