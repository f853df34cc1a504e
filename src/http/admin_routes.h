// The admin API under /v1/admin (scope documents:admin): processed events,
// replay, re-publish, rejected messages and re-drive. The JSON shapes are
// shared with the `docvault admin` CLI, which prints the same documents.
#pragma once

#include <nlohmann/json.hpp>

#include "http/auth.h"
#include "http/server.h"
#include "service/admin_service.h"

namespace docvault::http {

// The POST routes take a JSON body of at most `json_body_limit` bytes.
void register_admin_routes(Router& router, service::AdminService& admin, const Authenticator& auth,
                           std::uint64_t json_body_limit = 64 * 1024);

nlohmann::ordered_json processed_event_json(const store::ProcessedEvent& event);
// The body as text when it is valid UTF-8 (null otherwise), and always base64.
nlohmann::ordered_json rejected_message_json(const store::RejectedMessage& message);
nlohmann::ordered_json replay_json(const service::ReplayResult& result);

}  // namespace docvault::http
