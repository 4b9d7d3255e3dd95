// POST /release_task, POST /query_result, POST /v1/cancel, GET /v1/events.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "confine.h"
#include "http_util.h"
#include "io/audio/audio_file.h"
#include "io/text/text_input.h"
#include "routes.h"

namespace acefit::server {

namespace {

using Json = nlohmann::json;

constexpr const char* kUploadFields[] = {"reference_audio", "ref_audio", "src_audio", "ctx_audio"};
constexpr const char* kPathFields[] = {"reference_audio_path", "src_audio_path"};

bool is_upload_field(const std::string& name) {
  for (const char* field : kUploadFields)
    if (name == field) return true;
  return false;
}

void send_unavailable(ServerState& state, httplib::Response& res, int retry_after_s,
                      const std::string& code, const std::string& message) {
  state.rejected_shutting_down.fetch_add(1);
  res.set_header("Retry-After", std::to_string(std::max(1, retry_after_s)));
  send_error(res, 503, code, "", message);
}

// Upstream's path fields: refused unless --input-dir is set; then confined,
// and refused because acefit has no reference or source audio tasks yet.
bool check_path_fields(ServerState& state, RequestBody& body, httplib::Response& res) {
  for (const char* field : kPathFields) {
    if (!body.fields.contains(field)) continue;
    const Json& value = body.fields[field];
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) {
      body.fields.erase(field);
      continue;
    }
    if (!value.is_string()) {
      send_error(res, 400, "invalid_request", field, std::string(field) + " must be a string");
      return false;
    }
    if (state.options.input_dir.empty()) {
      send_error(
          res, 400, "invalid_request", field,
          std::string(field) + ": server paths are disabled (start acefit serve with --input-dir)");
      return false;
    }
    std::string why;
    if (!confine_path(state.options.input_dir, value.get<std::string>(), why)) {
      send_error(res, 400, "invalid_request", field, std::string(field) + ": " + why);
      return false;
    }
    send_error(res, 400, "unsupported", field,
               std::string(field) + ": reference and source audio are not supported yet");
    return false;
  }
  return true;
}

// Uploaded audio is read (bounded) before anything else, then refused:
// acefit has no reference or source audio tasks yet.
bool check_uploads(ServerState& state, RequestBody& body, httplib::Response& res) {
  for (const Upload& upload : body.uploads) {
    if (!is_upload_field(upload.field)) {
      send_error(res, 400, "invalid_request", printable_text(upload.field),
                 "unknown file field '" + printable_text(upload.field) +
                     "' (reference_audio, ref_audio, src_audio or ctx_audio)");
      return false;
    }
    AudioReadLimits limits;
    limits.max_file_bytes = state.options.max_upload_bytes;
    limits.max_frames = 48000ull * 600;  // the longest song
    auto audio = read_audio_file(upload.path, limits);
    if (!audio.ok()) {
      // The reader names the temp file: say which field instead.
      std::string message = audio.status().message();
      for (std::size_t at = message.find(upload.path); at != std::string::npos;
           at = message.find(upload.path))
        message.replace(at, upload.path.size(), upload.field);
      send_error(res, 400, "invalid_audio", upload.field, upload.field + ": " + message);
      return false;
    }
    if (audio->frames() == 0) {
      send_error(res, 400, "invalid_audio", upload.field, upload.field + ": the audio is empty");
      return false;
    }
    send_error(res, 400, "unsupported", upload.field,
               upload.field + ": reference and source audio are not supported yet");
    return false;
  }
  return true;
}

void release_task(ServerState& state, const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader) {
  RequestBody body;
  if (!read_request_body(state, req, res, reader, BodyKinds::json_form_or_multipart, body)) return;
  if (state.draining || state.queue.shutting_down()) {
    send_unavailable(state, res, 30, "shutting_down", "the server is shutting down");
    return;
  }
  if (!state.ready) {
    send_unavailable(state, res, 5, "not_ready", "the models are loading");
    return;
  }
  if (!check_path_fields(state, body, res) || !check_uploads(state, body, res)) {
    state.rejected_invalid.fetch_add(1);
    return;
  }
  Parsed<ReleaseRequest> parsed = parse_release_request(body.fields, body.source);
  if (!parsed.ok()) {
    state.rejected_invalid.fetch_add(1);
    send_request_error(res, *parsed.error);
    return;
  }
  if (parsed.value->model) {
    const auto& models = state.engine.info().dit_models;
    if (std::find(models.begin(), models.end(), *parsed.value->model) == models.end()) {
      state.rejected_invalid.fetch_add(1);
      send_error(res, 400, "invalid_request", "model",
                 "model '" + printable_text(*parsed.value->model) +
                     "' is not one of the loaded models (GET /v1/models)");
      return;
    }
  }
  SubmitResult submitted = state.queue.submit(parsed.value->canonical);
  switch (submitted.outcome) {
    case SubmitOutcome::accepted:
      send_data(res, 200,
                {{"task_id", submitted.id},
                 {"status", "queued"},
                 {"queue_position", submitted.queue_position}});
      return;
    case SubmitOutcome::full:
      state.rejected_queue_full.fetch_add(1);
      res.set_header("Retry-After", std::to_string(std::max(1, submitted.retry_after_s)));
      send_error(res, 429, "queue_full", "", "Server busy: queue is full");
      return;
    case SubmitOutcome::shutting_down:
      send_unavailable(state, res, 30, "shutting_down", "the server is shutting down");
      return;
    case SubmitOutcome::error:
      std::fprintf(stderr, "acefit serve: cannot store a job: %s\n",
                   submitted.status.message().c_str());
      send_unavailable(state, res, 5, "store_unavailable",
                       "the job could not be stored; try again");
      return;
  }
}

int upstream_status(JobState state) {
  switch (state) {
    case JobState::queued:
    case JobState::running:
      return 0;
    case JobState::succeeded:
      return 1;
    default:
      return 2;
  }
}

Json progress_json(const JobView& view) {
  Json out = {{"status", upstream_status(view.job.state)},
              {"state", std::string(job_state_name(view.job.state))}};
  if (view.job.state == JobState::queued) {
    out["stage"] = "queued";
    out["progress"] = 0.0;
    out["queue_position"] = view.queue_position;
    out["eta_s"] = view.eta_s;
  } else if (view.progress) {
    out["stage"] = view.progress->stage;
    out["progress"] = view.progress->fraction;
    out["done"] = view.progress->done;
    out["total"] = view.progress->total;
    out["eta_s"] = view.progress->eta_s;
  } else {
    out["stage"] = "starting";
    out["progress"] = 0.0;
  }
  out["error"] = nullptr;
  return out;
}

std::string progress_text(const JobView& view) {
  const Job& job = view.job;
  switch (job.state) {
    case JobState::queued:
      return "queued (position " + std::to_string(view.queue_position) + ")";
    case JobState::running:
      if (view.progress) {
        char text[128];
        std::snprintf(text, sizeof text, "%s %lld/%lld (%.0f%%)", view.progress->stage.c_str(),
                      static_cast<long long>(view.progress->done),
                      static_cast<long long>(view.progress->total),
                      100.0 * view.progress->fraction);
        return text;
      }
      return "running";
    case JobState::succeeded:
      return "succeeded";
    default:
      return std::string(job_state_name(job.state)) + ": " + job.reason;
  }
}

Json query_entry(const std::string& id, const std::optional<JobView>& view) {
  if (!view) return {{"task_id", id}, {"result", "[]"}, {"status", 0}, {"progress_text", ""}};
  const Job& job = view->job;
  Json result;
  if (job.state == JobState::succeeded) {
    result = job.result.is_array() ? job.result : Json::array();
  } else if (is_terminal(job.state)) {
    result = Json::array({{{"status", 2},
                           {"state", std::string(job_state_name(job.state))},
                           {"error", job.reason}}});
  } else {
    result = Json::array({progress_json(*view)});
  }
  return {{"task_id", id},
          {"result", result.dump(-1, ' ', false, Json::error_handler_t::replace)},
          {"status", upstream_status(job.state)},
          {"state", std::string(job_state_name(job.state))},
          {"progress_text", progress_text(*view)}};
}

void query_result(ServerState& state, const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader) {
  RequestBody body;
  if (!read_request_body(state, req, res, reader, BodyKinds::json_or_form, body)) return;
  for (const auto& [key, value] : body.fields.items()) {
    if (key != "task_id_list") {
      send_error(res, 400, "invalid_request", printable_text(key),
                 "unknown field '" + printable_text(key) + "' (task_id_list)");
      return;
    }
  }
  if (!body.fields.contains("task_id_list")) {
    send_error(res, 400, "invalid_request", "task_id_list", "task_id_list is required");
    return;
  }
  Json list = body.fields["task_id_list"];
  if (list.is_string()) {
    list = Json::parse(list.get<std::string>(), nullptr, false);
    if (list.is_discarded()) {
      send_error(res, 400, "invalid_request", "task_id_list",
                 "task_id_list must be a JSON list of task ids (or that list as a JSON string)");
      return;
    }
  }
  if (!list.is_array() || list.size() > 256) {
    send_error(res, 400, "invalid_request", "task_id_list",
               "task_id_list must be a list of at most 256 task ids");
    return;
  }
  Json out = Json::array();
  for (const Json& item : list) {
    if (!item.is_string()) {
      send_error(res, 400, "invalid_request", "task_id_list",
                 "task_id_list must hold strings (task ids)");
      return;
    }
    const std::string id = item.get<std::string>();
    if (!is_job_id(id)) {
      out.push_back(query_entry(printable_text(id), std::nullopt));
      continue;
    }
    auto view = state.queue.find(id);
    if (!view.ok()) {
      send_unavailable(state, res, 2, "store_unavailable", "the job store could not be read");
      return;
    }
    out.push_back(query_entry(id, *view));
  }
  send_data(res, 200, out);
}

void cancel(ServerState& state, const httplib::Request& req, httplib::Response& res,
            const httplib::ContentReader& reader) {
  RequestBody body;
  if (!read_request_body(state, req, res, reader, BodyKinds::json_or_form, body)) return;
  for (const auto& [key, value] : body.fields.items()) {
    if (key != "task_id") {
      send_error(res, 400, "invalid_request", printable_text(key),
                 "unknown field '" + printable_text(key) + "' (task_id)");
      return;
    }
  }
  const Json id_json = body.fields.value("task_id", Json());
  if (!id_json.is_string() || !is_job_id(id_json.get<std::string>())) {
    send_error(res, 400, "invalid_request", "task_id",
               "task_id must be a task id (32 lowercase hex digits)");
    return;
  }
  const std::string id = id_json.get<std::string>();
  CancelResult result = state.queue.cancel(id);
  switch (result.outcome) {
    case CancelOutcome::cancelled:
      send_data(res, 200, {{"task_id", id}, {"status", "cancelled"}});
      return;
    case CancelOutcome::cancel_requested:
      send_data(res, 200, {{"task_id", id}, {"status", "cancelling"}});
      return;
    case CancelOutcome::conflict:
      send_error(res, 409, "already_finished", "task_id",
                 "the job already " + std::string(job_state_name(result.state)));
      return;
    case CancelOutcome::not_found:
      send_error(res, 404, "not_found", "task_id", "no such task");
      return;
    case CancelOutcome::error:
      send_unavailable(state, res, 2, "store_unavailable", "the job store could not be written");
      return;
  }
}

// One server-sent event.
std::string sse(const std::string& event, const Json& data) {
  return "event: " + event +
         "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

struct EventStream {
  std::string id;
  std::uint64_t seen = 0;
  std::string last;
  bool finished = false;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

// The event for the job's current state ("" when it is unknown now).
std::pair<std::string, bool> job_event(const JobView& view) {
  const Job& job = view.job;
  switch (job.state) {
    case JobState::queued:
      return {sse("queued",
                  {{"task_id", job.id}, {"position", view.queue_position}, {"eta_s", view.eta_s}}),
              false};
    case JobState::running: {
      Json data = {{"task_id", job.id}, {"stage", "starting"}, {"done", 0},
                   {"total", 0},        {"fraction", 0.0},     {"eta_s", view.eta_s}};
      if (view.progress) {
        data["stage"] = view.progress->stage;
        data["done"] = view.progress->done;
        data["total"] = view.progress->total;
        data["fraction"] = view.progress->fraction;
        data["eta_s"] = view.progress->eta_s;
      }
      return {sse("progress", data), false};
    }
    case JobState::succeeded:
      return {sse("succeeded", {{"task_id", job.id}, {"result", job.result}}), true};
    default:
      return {sse(std::string(job_state_name(job.state)),
                  {{"task_id", job.id}, {"reason", job.reason}}),
              true};
  }
}

void events(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const std::string id = query_value(req, "task_id");
  if (!is_job_id(id)) {
    send_error(res, 400, "invalid_request", "task_id",
               "task_id must be a task id (32 lowercase hex digits)");
    return;
  }
  auto view = state.queue.find(id);
  if (!view.ok()) {
    send_unavailable(state, res, 2, "store_unavailable", "the job store could not be read");
    return;
  }
  if (!view->has_value()) {
    send_error(res, 404, "not_found", "task_id", "no such task");
    return;
  }
  auto stream = std::make_shared<EventStream>();
  stream->id = id;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream", [&state, stream](std::size_t, httplib::DataSink& sink) {
        if (stream->finished || state.stopping) {
          sink.done();
          return true;
        }
        const std::uint64_t seq = state.queue.change_seq();
        auto current = state.queue.find(stream->id);
        if (!current.ok() || !current->has_value()) {
          // Expired or unreadable: say so and end.
          const std::string gone =
              sse("failed", {{"task_id", stream->id}, {"reason", "the job is gone"}});
          sink.write(gone.data(), gone.size());
          stream->finished = true;
          sink.done();
          return true;
        }
        auto [text, terminal] = job_event(**current);
        const auto now = std::chrono::steady_clock::now();
        if (text != stream->last) {
          if (!sink.write(text.data(), text.size())) return false;
          stream->last = text;
          stream->last_write = now;
        } else if (now - stream->last_write > std::chrono::seconds(10)) {
          static const std::string kKeepAlive = ": keep-alive\n\n";
          if (!sink.write(kKeepAlive.data(), kKeepAlive.size())) return false;
          stream->last_write = now;
        }
        if (terminal) {
          stream->finished = true;
          sink.done();
          return true;
        }
        if (!sink.is_writable()) return false;  // the client went away
        stream->seen = state.queue.wait_change(seq, std::chrono::milliseconds(500));
        return true;
      });
}

}  // namespace

void register_job_routes(httplib::Server& http, ServerState& state) {
  http.Post("/release_task", [&state](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
    release_task(state, req, res, reader);
  });
  http.Post("/query_result", [&state](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
    query_result(state, req, res, reader);
  });
  http.Post("/v1/cancel",
            [&state](const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader) { cancel(state, req, res, reader); });
  http.Get("/v1/events", [&state](const httplib::Request& req, httplib::Response& res) {
    events(state, req, res);
  });
}

}  // namespace acefit::server
