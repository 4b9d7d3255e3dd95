// GET /health, GET /v1/models, GET /v1/stats, GET /v1/gpu, POST /v1/plan.
#include <chrono>
#include <mutex>
#include <string>

#include "adapt/tier_table.h"
#include "core/memory_tag.h"
#include "http_util.h"
#include "routes.h"

namespace acefit::server {

namespace {

using Json = nlohmann::json;

void health(ServerState& state, httplib::Response& res) {
  send_data(res, 200,
            {{"status", "ok"},
             {"service", "ACE-Step API"},
             {"version", "1.0"},
             {"ready", state.ready.load() && !state.draining.load()}});
}

void models(ServerState& state, httplib::Response& res) {
  const EngineInfo& info = state.engine.info();
  Json list = Json::array();
  for (std::size_t i = 0; i < info.dit_models.size(); ++i)
    list.push_back({{"name", info.dit_models[i]}, {"is_default", i == 0}});
  send_data(
      res, 200,
      {{"models", list},
       {"default_model", info.dit_models.empty() ? Json(nullptr) : Json(info.dit_models.front())},
       {"lm_models", info.lm_models}});
}

void stats(ServerState& state, httplib::Response& res) {
  const QueueStats s = state.queue.stats();
  send_data(res, 200,
            {{"jobs",
              {{"total", s.total},
               {"queued", s.queued},
               {"running", s.running},
               {"succeeded", s.succeeded},
               {"failed", s.failed},
               {"cancelled", s.cancelled}}},
             {"queue_size", s.queued},
             {"queue_maxsize", s.queue_maxsize},
             {"avg_job_seconds", s.avg_job_seconds},
             {"rejections",
              {{"queue_full", s.rejections},
               {"authentication", state.rejected_auth.load()},
               {"too_large", state.rejected_size.load()},
               {"invalid", state.rejected_invalid.load()},
               {"unavailable", state.rejected_shutting_down.load()}}},
             {"responses",
              {{"2xx", state.responses_2xx.load()},
               {"4xx", state.responses_4xx.load()},
               {"5xx", state.responses_5xx.load()}}},
             {"connections",
              {{"accepted", state.transport ? state.transport->connections.load() : 0},
               {"refused_busy", state.transport ? state.transport->refused_busy.load() : 0},
               {"head_limit", state.transport ? state.transport->head_limit.load() : 0}}},
             {"handler_exceptions", state.handler_exceptions.load()},
             {"ready", state.ready.load() && !state.draining.load()}});
}

Json plan_json(const PreparedSong& prepared) {
  const EffectiveSettings& s = prepared.settings;
  Json stages = Json::array();
  for (const StageMemory& stage : prepared.plan.record.stages) {
    Json by_tag = Json::object();
    for (MemoryTag tag : kAllMemoryTags)
      by_tag[std::string(memory_tag_name(tag))] =
          stage.device_by_tag[static_cast<std::size_t>(tag)];
    stages.push_back(
        {{"name", stage.name}, {"device_bytes", stage.device_peak_bytes}, {"by_tag", by_tag}});
  }
  return {{"fits", prepared.fits},
          {"refusal", prepared.fits ? Json(nullptr) : Json(prepared.refusal)},
          {"budget_bytes", prepared.budget_bytes},
          {"peak_bytes", prepared.plan.peak_device_bytes},
          {"resident_bytes", prepared.plan.resident_bytes},
          {"settings",
           {{"tier", s.tier.value},
            {"duration_s", prepared.request.duration_s},
            {"batch", prepared.request.batch},
            {"asked_batch", prepared.asked_batch},
            {"max_duration_s", s.max_duration_s.value},
            {"max_batch", s.max_batch.value},
            {"lm_model", s.lm_model.value ? Json(*s.lm_model.value) : Json(nullptr)},
            {"backend", s.backend.value},
            {"offload", std::string(offload_mode_name(s.offload.value))},
            {"quantization", s.quantization.value ? Json("int8") : Json(nullptr)},
            {"compile", s.compile.value},
            {"init_lm", s.init_lm.value}}},
          {"warnings", prepared.warnings},
          {"stages", stages},
          {"plan_s", prepared.plan_s}};
}

void plan(ServerState& state, const httplib::Request& req, httplib::Response& res,
          const httplib::ContentReader& reader) {
  RequestBody body;
  if (!read_request_body(state, req, res, reader, BodyKinds::json_or_form, body)) return;
  Parsed<ReleaseRequest> parsed = parse_release_request(body.fields, body.source);
  if (!parsed.ok()) {
    state.rejected_invalid.fetch_add(1);
    send_request_error(res, *parsed.error);
    return;
  }
  // The engine takes one caller at a time: a running job holds it.
  std::unique_lock<std::timed_mutex> lock(state.engine_mutex, std::defer_lock);
  if (!lock.try_lock_for(std::chrono::seconds(2))) {
    res.set_header("Retry-After", std::to_string(std::max(1, state.queue.retry_after_s())));
    send_error(res, 503, "engine_busy", "",
               "a job is running; plans are made between jobs (try again later)");
    return;
  }
  auto prepared = state.engine.prepare(parsed.value->song);
  lock.unlock();
  if (!prepared.ok()) {
    const Status& status = prepared.status();
    if (status.code() == ErrorCode::invalid_argument || status.code() == ErrorCode::not_found ||
        status.code() == ErrorCode::unsupported) {
      send_error(res, 400, "invalid_request", "", status.message());
    } else {
      res.set_header("Retry-After", "5");
      send_error(res, 503, std::string(error_code_name(status.code())), "", status.message());
    }
    return;
  }
  send_data(res, 200, plan_json(*prepared));
}

}  // namespace

void register_info_routes(httplib::Server& http, ServerState& state) {
  http.Get("/health",
           [&state](const httplib::Request&, httplib::Response& res) { health(state, res); });
  http.Get("/v1/models",
           [&state](const httplib::Request&, httplib::Response& res) { models(state, res); });
  http.Get("/v1/stats",
           [&state](const httplib::Request&, httplib::Response& res) { stats(state, res); });
  http.Get("/v1/gpu", [&state](const httplib::Request&, httplib::Response& res) {
    send_data(res, 200, state.options.gpu_document);
  });
  http.Post("/v1/plan",
            [&state](const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader) { plan(state, req, res, reader); });
}

}  // namespace acefit::server
