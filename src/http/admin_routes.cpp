#include "http/admin_routes.h"

#include "domain/entity.h"
#include "http/api_error.h"
#include "runtime/parse.h"

namespace docvault::http {
namespace {

constexpr std::string_view kAdminScope = "documents:admin";

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
             static_cast<unsigned char>(in[i + 2]);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
  }
  if (i + 1 == in.size()) {
    auto n = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

std::optional<std::string> param(const Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.param(name);
}

// The body as JSON text when it is valid UTF-8, null otherwise.
nlohmann::ordered_json text_or_null(const std::string& bytes) {
  try {
    nlohmann::ordered_json(bytes).dump();
    return bytes;
  } catch (const nlohmann::json::type_error&) {
    return nullptr;
  }
}

}  // namespace

nlohmann::ordered_json processed_event_json(const store::ProcessedEvent& e) {
  auto optional = [](const std::optional<std::string>& v) {
    return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
  };
  return {{"event_id", e.event_id},         {"source", e.source},
          {"action", e.action},             {"entity_id", optional(e.entity_id)},
          {"entity_type", optional(e.entity_type)}, {"processed_at", format_timestamp(e.processed_at)},
          {"payload_sha256", optional(e.payload_sha256)}};
}

nlohmann::ordered_json rejected_message_json(const store::RejectedMessage& m) {
  return {{"message_id", m.message_id},
          {"reason", m.reason},
          {"detail", m.detail},
          {"receive_count", m.receive_count},
          {"rejected_at", format_timestamp(m.rejected_at)},
          {"body", text_or_null(m.body)},
          {"body_base64", base64(m.body)}};
}

nlohmann::ordered_json replay_json(const service::ReplayResult& r) {
  return {{"event", processed_event_json(r.event)},
          {"replayed", r.replayed},
          {"documents_archived", r.documents_archived}};
}

void register_admin_routes(Router& router, service::AdminService& admin, const Authenticator& auth,
                           std::uint64_t json_body_limit) {
  router.route("/v1/admin/processed-events",
               {{"GET", auth.require(kAdminScope, [&admin](const Request& req, Response& res) {
                   auto events = admin.processed_events({param(req, "entity_id"), param(req, "entity_type"),
                                                         param(req, "since"), param(req, "until"), param(req, "limit")});
                   if (!events) return respond(res, ApiError::bad_field(events.error()));
                   nlohmann::ordered_json items = nlohmann::ordered_json::array();
                   for (const auto& e : events.value()) items.push_back(processed_event_json(e));
                   respond_json(res, 200, {{"items", std::move(items)}});
                 })}});
  router.route(R"(/v1/admin/processed-events/([^/]+)/replay)",
               {{"POST", auth.require(kAdminScope, [&admin](const Request& req, Response& res) {
                   auto result = admin.replay(req.matches.at(1));
                   if (!result) return respond(res, ApiError::not_found("no processed event with this event_id"));
                   respond_json(res, 200, replay_json(*result));
                 })}});
  router.route("/v1/admin/outbox/republish",
               {{"POST", auth.require(kAdminScope, [&admin](const Request& req, Response& res) {
                   auto body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
                   if (!body.is_object()) {
                     return respond(res, ApiError::bad_field(FieldError{"body", "must be a JSON object"}));
                   }
                   auto text = [&](const char* key) -> std::optional<std::string> {
                     if (!body.contains(key) || !body[key].is_string()) return std::nullopt;
                     return body[key].get<std::string>();
                   };
                   auto result = admin.republish(text("entity_id"), text("document_id"));
                   if (!result) return respond(res, ApiError::bad_field(result.error()));
                   if (!result.value()) return respond(res, ApiError::not_found("no document with this id"));
                   respond_json(res, 202, {{"requeued_events", *result.value()}});
                 }).takes_body(json_body_limit)}});
  router.route("/v1/admin/rejected-messages",
               {{"GET", auth.require(kAdminScope, [&admin](const Request& req, Response& res) {
                   std::size_t limit = 100;
                   if (auto text = param(req, "limit")) {
                     // The whole text: "12abc" is no limit.
                     limit = runtime::parse_integer<std::size_t>(*text).value_or(0);
                     if (limit < 1 || limit > 1000) {
                       return respond(res, ApiError::bad_field(FieldError{"limit", "must be a whole number from 1 to 1000"}));
                     }
                   }
                   nlohmann::ordered_json items = nlohmann::ordered_json::array();
                   for (const auto& m : admin.rejected_messages(limit)) items.push_back(rejected_message_json(m));
                   respond_json(res, 200, {{"items", std::move(items)}});
                 })}});
  router.route(R"(/v1/admin/rejected-messages/([^/]+)/redrive)",
               {{"POST", auth.require(kAdminScope, [&admin](const Request& req, Response& res) {
                   switch (admin.redrive(req.matches.at(1))) {
                     case service::RedriveOutcome::redriven:
                       return respond_json(res, 202, {{"redriven", true}});
                     case service::RedriveOutcome::not_found:
                       return respond(res, ApiError::not_found("no rejected message with this message_id"));
                     case service::RedriveOutcome::no_queue:
                       return respond(res, ApiError{409, "no_queue", "DOCUMENT_VAULT_SQS_URL is not set", std::nullopt});
                   }
                 })}});
}

}  // namespace docvault::http
