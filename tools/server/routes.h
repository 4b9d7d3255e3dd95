// The server's routes by topic (internal to the server).
#pragma once

#include <httplib.h>

#include "http_server.h"

namespace acefit::server {

// POST /release_task, POST /query_result, POST /v1/cancel, GET /v1/events.
void register_job_routes(httplib::Server& http, ServerState& state);
// GET /health, GET /v1/models, GET /v1/stats, GET /v1/gpu, POST /v1/plan.
void register_info_routes(httplib::Server& http, ServerState& state);
// GET /v1/audio, GET /, GET /ui/<file>.
void register_file_routes(httplib::Server& http, ServerState& state);

}  // namespace acefit::server
