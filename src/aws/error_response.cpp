#include "aws/error_response.h"

#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

namespace docvault::aws {
namespace {

struct ErrorFields {
  std::string code;
  std::string message;
  std::string request_id;
};

std::string json_string(const nlohmann::json& object, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto found = object.find(name);
    if (found != object.end() && found->is_string()) return found->get<std::string>();
  }
  return {};
}

// "com.amazonaws.sqs#QueueDoesNotExist" -> "QueueDoesNotExist"; some services
// append ":<uri>".
std::string bare_type(std::string type) {
  if (auto hash = type.rfind('#'); hash != std::string::npos) type.erase(0, hash + 1);
  if (auto colon = type.find(':'); colon != std::string::npos) type.erase(colon);
  return type;
}

bool read_json(std::string_view body, ErrorFields& out) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) return false;
  out.code = bare_type(json_string(parsed, {"__type", "code", "Code"}));
  out.message = json_string(parsed, {"message", "Message", "errorMessage"});
  return true;
}

// <Error> as the root (S3), <X><Error> (the query protocol) or
// <X><Errors><Error> (older query services). Fixed paths: a hostile body
// nested deep costs no recursion.
pugi::xml_node error_element(pugi::xml_node root) {
  if (std::strcmp(root.name(), "Error") == 0) return root;
  if (pugi::xml_node error = root.child("Error")) return error;
  return root.child("Errors").child("Error");
}

std::string xml_text(pugi::xml_node node, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (std::string text = node.child(name).text().as_string(); !text.empty()) return text;
  }
  return {};
}

bool read_xml(std::string_view body, ErrorFields& out) {
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size())) return false;
  pugi::xml_node root = document.document_element();
  pugi::xml_node error = error_element(root);
  if (!error) return false;
  out.code = xml_text(error, {"Code"});
  out.message = xml_text(error, {"Message"});
  out.request_id = xml_text(root, {"RequestId", "RequestID"});
  if (out.request_id.empty()) out.request_id = xml_text(error, {"RequestId", "RequestID"});
  return true;
}

// The body as a log can show it: at most kQuotedBodyBytes, in quotes, with
// anything but printable ASCII escaped.
std::string quoted(std::string_view body) {
  std::string out = "\"";
  for (unsigned char c : body.substr(0, kQuotedBodyBytes)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      out += escaped;
    }
  }
  out += '"';
  if (body.size() > kQuotedBodyBytes) out += " (" + std::to_string(body.size()) + " bytes, first " +
                                             std::to_string(kQuotedBodyBytes) + " shown)";
  return out;
}

std::string first_header(const HttpResponse& response, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (const std::string* value = response.header(name); value != nullptr && !value->empty()) return *value;
  }
  return {};
}

}  // namespace

AwsError error_from_response(const HttpResponse& response, std::string_view fallback_code) {
  ErrorFields fields;
  std::string_view body = response.body;
  bool understood = read_json(body, fields) || read_xml(body, fields);
  // SQS's query-compatible code is the one it documents and callers compare against.
  if (const std::string* query_error = response.header("x-amzn-query-error")) {
    if (auto code = query_error->substr(0, query_error->find(';')); !code.empty()) fields.code = code;
  }
  if (fields.code.empty()) fields.code = fallback_code;
  if (fields.message.empty()) {
    std::string status = "HTTP " + std::to_string(response.status);
    if (body.empty()) {
      fields.message = status + " with an empty body";
    } else if (understood) {
      fields.message = status + " with no error message: " + quoted(body);
    } else {
      fields.message = status + ": " + quoted(body);
    }
  }
  std::string request_id = first_header(response, {"x-amzn-RequestId", "x-amz-request-id"});
  if (request_id.empty()) request_id = std::move(fields.request_id);
  return AwsError(static_cast<int>(response.status), std::move(fields.code), std::move(fields.message),
                  std::move(request_id));
}

}  // namespace docvault::aws
