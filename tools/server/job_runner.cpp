// The JobQueue's run function of `acefit serve`: a stored request back to a
// SongRequest, Engine::generate into the output folder, and upstream's
// result list (gpu-adaptation.md 15.4).
#include <chrono>
#include <cmath>
#include <mutex>
#include <string>

#include "http_server.h"
#include "http_util.h"
#include "release_request.h"

namespace acefit::server {

namespace {

using Json = nlohmann::json;

// upstream's audio_format -> the engine's format name and the extension.
std::pair<std::string, std::string> output_format(const std::string& audio_format) {
  if (audio_format == "wav") return {"wav16", "wav"};
  if (audio_format == "wav32") return {"wav32f", "wav"};
  if (audio_format == "flac") return {"flac16", "flac"};
  return {audio_format, audio_format};  // mp3, opus
}

std::string with_code(const Status& status) {
  const std::string code(error_code_name(status.code()));
  const std::string& message = status.message();
  return message.rfind(code, 0) == 0 ? message : code + ": " + message;
}

Json result_entries(const Job& job, const ReleaseRequest& request, const SongResult& result) {
  const GenerationResult& run = result.run;
  Json metas = {{"bpm", run.bpm ? Json(*run.bpm) : Json(nullptr)},
                {"duration", run.duration_s},
                {"genres", run.lm.cot.genres ? Json(*run.lm.cot.genres) : Json(nullptr)},
                {"keyscale", run.keyscale ? Json(*run.keyscale) : Json(nullptr)},
                {"timesignature", run.time_signature ? Json(*run.time_signature) : Json(nullptr)}};
  // The LM that ran (null when none did).
  const Json lm_model = run.record.lm.ran ? Json(run.record.lm.model) : Json(nullptr);
  char info[256];
  std::snprintf(info, sizeof info, "%d steps, shift %.2f, %s, %.1f s wall, format %s", run.steps,
                run.shift, run.turbo ? "turbo" : "base", result.wall_s, result.format.c_str());
  Json entries = Json::array();
  for (std::size_t i = 0; i < result.outputs.size(); ++i) {
    const std::uint64_t seed = i < run.seeds.size() ? run.seeds[i] : 0;
    entries.push_back({{"file", "/v1/audio?path=" + url_encode(result.outputs[i])},
                       {"wave", ""},
                       {"status", 1},
                       {"create_time", job.created_ms / 1000},
                       {"env", "acefit"},
                       {"prompt", run.caption.empty() ? request.song.caption : run.caption},
                       {"lyrics", request.song.lyrics},
                       {"metas", metas},
                       {"generation_info", info},
                       {"seed_value", std::to_string(seed)},
                       {"lm_model", lm_model},
                       {"dit_model", run.dit},
                       {"cot_text", run.lm.cot_ran ? Json(run.lm.cot_text) : Json(nullptr)},
                       {"warnings", result.warnings}});
  }
  return entries;
}

}  // namespace

RunFunction make_job_runner(Engine& engine, std::timed_mutex& engine_mutex,
                            std::string output_dir) {
  return [&engine, &engine_mutex, output_dir](
             const Job& job, const RunCallbacks& callbacks) -> Expected<RunOutput> {
    Parsed<ReleaseRequest> parsed = parse_release_request(job.request, FieldSource::json);
    if (!parsed.ok()) {
      return Status(
          ErrorCode::invalid_argument,
          "invalid_request: the stored request no longer parses: " + parsed.error->message);
    }
    const auto [format, extension] = output_format(parsed.value->audio_format);
    OutputTarget target;
    target.path = output_dir + "/" + job.id + "." + extension;
    target.format = format;
    target.no_overwrite = true;  // names carry the job id: a collision is a failure (OUT-05)
    target.numbered = true;
    std::unique_lock<std::timed_mutex> lock(engine_mutex);
    auto result = engine.generate(parsed.value->song, target, callbacks);
    lock.unlock();
    if (!result.ok()) {
      if (result.status().code() == ErrorCode::cancelled) return result.status();
      return Status(result.status().code(), with_code(result.status()));
    }
    RunOutput output;
    output.result = result_entries(job, *parsed.value, *result);
    output.files = result->outputs;
    return output;
  };
}

}  // namespace acefit::server
