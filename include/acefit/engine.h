// The acefit engine as a library: what the CLI (`acefit generate`) and the
// HTTP server (`acefit serve`) both run a generation through, so neither
// orchestrates one itself (docs/ENGINE.md).
//
// An Engine is opened once: it reads .env, opens the device, runs the
// probes, loads the tier table and checks the checkpoints folder. Each
// request then gets its own effective settings (the tier's limits and
// rules applied to what it asks), a memory plan and the VRAM guard's
// decision before anything loads; the models loaded for one request stay
// loaded for the next one that uses the same models, within the tier's
// offload policy. Every failure is a Status (out_of_memory included); the
// engine stays usable after any of them.
//
// Not thread-safe: one caller at a time (the server runs one worker per
// device). `prepare` may be called while no generate runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acefit/request.h"
#include "acefit/status.h"

namespace acefit {

struct EngineConfig {
  std::string checkpoints;  // the checkpoints/ folder (official layout)
  // Settings for every request, by option-table name ("device", "offload",
  // "quantization", "lm_model", "backend", "duration_s", "batch", ... as the
  // CLI flags: src/adapt/options.cpp, docs/GPU.md); a request's own settings override them.
  std::map<std::string, std::string> settings;
  std::optional<std::string> tier_table;  // guide | upstream | a JSON file
  // Limits from the plans for this device's budget (check-gpu --derived).
  bool derived = false;
  // Environment variables (ACESTEP_*, MAX_CUDA_VRAM, ACEFIT_*): the caller's
  // process environment, or none. The library never reads the environment
  // itself.
  EnvLookup environment;
  // The folder whose .env is read ("" for none).
  std::string dotenv_dir = ".";
  // The Qwen3 tokenizer folder for planning without a checkpoint (check-gpu
  // --derived, host limits); "" for none.
  std::string tokenizer_dir;
};

// Where a generation's audio goes. Written atomically, all items or none.
struct OutputTarget {
  std::string path;  // a file; a batch adds -1, -2, ... before the extension
  std::string
      format;  // wav, flac, wav16, wav32f, flac16, flac24, mp3, opus; "": from the extension
  bool no_overwrite = false;  // refuse existing files (checked before any work)
  // Name items NAME-1 ... NAME-N even for one item (the CLI does when the
  // batch asked for is not 1; the server always does).
  bool numbered = false;
};

struct RunCallbacks {
  // (stage, done, total): "load", "lm_cot", "lm_codes", "codes", "encode",
  // "diffusion" (steps), "decode" (tiles), "write" (files).
  std::function<void(std::string_view stage, std::int64_t done, std::int64_t total)> progress;
  // Polled between steps, tiles, tokens and stages; true stops the run with
  // a `cancelled` status and writes nothing.
  std::function<bool()> cancelled;
  // Called once every temporary output file is complete, just before they
  // are renamed into place (tests raise a signal here).
  std::function<void()> before_commit;
  // Warnings as they arise (the settings', the guard's, the run's); they
  // are in the result too.
  std::function<void(const std::string&)> warning;
  // The files now holding new audio, once writing ends: all of them, or on
  // a failure while renaming (rare) exactly those that were written.
  std::function<void(const std::vector<std::string>& paths)> written;
};

class Engine {
 public:
  static Expected<std::unique_ptr<Engine>> open(const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The request's effective settings, its memory plan and the VRAM guard's
  // decision, without loading or running anything (POST /v1/plan, `acefit
  // plan`). A plan that does not fit is a result here (fits = false), not an
  // error; bad input is invalid_argument naming the field.
  Expected<PreparedSong> prepare(const SongRequest& request);

  // prepare, then load (or keep) the models, generate and write the audio.
  Expected<SongResult> generate(const SongRequest& request, const OutputTarget& output,
                                const RunCallbacks& callbacks = {});

  // Loads the models `request` would use (after its plan and the guard), so
  // the first generation starts at once; the server does this while it
  // answers 503 not_ready. out_of_memory when that request cannot fit.
  Status warm_up(const SongRequest& request, const RunCallbacks& callbacks = {});

  // The settings a request that asks nothing gets on this device (the UI's
  // defaults), the device, and the DiT folders of the checkpoints.
  const EngineInfo& info() const;

  // Drops the loaded models (their device memory comes back).
  void unload();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace acefit
