#include "aws/sns_client.h"

#include <pugixml.hpp>

#include <stdexcept>

#include "aws/sigv4.h"

namespace docvault::aws {

namespace {

constexpr std::size_t kMaxBatch = 10;

std::string request_id_header(const HttpResponse& response) {
  const std::string* id = response.header("x-amzn-RequestId");
  return id ? *id : "";
}

// The response document, or AwsError("InvalidResponse") for a 2xx we cannot read.
pugi::xml_document parse_xml(const HttpResponse& response, std::string_view action) {
  pugi::xml_document document;
  if (!document.load_buffer(response.body.data(), response.body.size())) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse",
                   std::string(action) + ": the response is not XML", request_id_header(response));
  }
  return document;
}

// The text of the element at `path` below the document's root element.
std::string text_at(const pugi::xml_document& document, std::initializer_list<const char*> path) {
  pugi::xml_node node = document.document_element();
  for (const char* name : path) node = node.child(name);
  return node.text().as_string();
}

void add_attributes(QueryParameters& out, const std::string& prefix,
                    const MessageAttributes& attributes) {
  std::size_t n = 0;
  for (const auto& [name, value] : attributes) {
    auto entry = prefix + "MessageAttributes.entry." + std::to_string(++n) + ".";
    out.emplace_back(entry + "Name", name);
    out.emplace_back(entry + "Value.DataType", value.data_type);
    if (value.data_type.starts_with("Binary")) {
      out.emplace_back(entry + "Value.BinaryValue", value.binary_value);
    } else {
      out.emplace_back(entry + "Value.StringValue", value.string_value);
    }
  }
}

void add_message(QueryParameters& out, const std::string& prefix, const SnsMessage& message) {
  out.emplace_back(prefix + "Message", message.message);
  if (!message.subject.empty()) out.emplace_back(prefix + "Subject", message.subject);
  add_attributes(out, prefix, message.attributes);
  if (!message.message_group_id.empty()) {
    out.emplace_back(prefix + "MessageGroupId", message.message_group_id);
  }
  if (!message.message_deduplication_id.empty()) {
    out.emplace_back(prefix + "MessageDeduplicationId", message.message_deduplication_id);
  }
}

// Attributes.entry.N.key / .value, as CreateTopic and Subscribe take them.
void add_map(QueryParameters& out, const std::map<std::string, std::string>& attributes) {
  std::size_t n = 0;
  for (const auto& [key, value] : attributes) {
    auto entry = "Attributes.entry." + std::to_string(++n) + ".";
    out.emplace_back(entry + "key", key);
    out.emplace_back(entry + "value", value);
  }
}

}  // namespace

std::string form_encode(const QueryParameters& parameters) {
  std::size_t bytes = 0;
  for (const auto& [key, value] : parameters) bytes += key.size() + value.size() + 2;
  std::string out;
  out.reserve(bytes + bytes / 2);  // room for some escapes; JSON payloads have many
  for (const auto& [key, value] : parameters) {
    if (!out.empty()) out += '&';
    append_uri_encoded(out, key);
    out += '=';
    append_uri_encoded(out, value);
  }
  return out;
}

AwsError parse_sns_error(const HttpResponse& response) {
  std::string code;
  std::string message;
  std::string request_id = request_id_header(response);
  pugi::xml_document document;
  if (document.load_buffer(response.body.data(), response.body.size())) {
    pugi::xml_node root = document.document_element();
    pugi::xml_node error = root.child("Error");
    code = error.child("Code").text().as_string();
    message = error.child("Message").text().as_string();
    if (std::string id = root.child("RequestId").text().as_string(); !id.empty()) request_id = id;
  }
  if (code.empty()) code = "UnknownError";
  if (message.empty()) message = "HTTP " + std::to_string(response.status) + " with no error message";
  return AwsError(static_cast<int>(response.status), std::move(code), std::move(message),
                  std::move(request_id));
}

SendBatchResult parse_publish_batch_response(const HttpResponse& response, std::size_t count) {
  auto document = parse_xml(response, "PublishBatch");
  pugi::xml_node result_node = document.document_element().child("PublishBatchResult");

  SendBatchResult result;
  std::vector<bool> seen(count, false);
  for (pugi::xml_node member : result_node.child("Successful").children("member")) {
    auto index = batch_entry_index(member.child("Id").text().as_string(), count);
    if (!index || seen[*index]) continue;
    seen[*index] = true;
    result.successful.push_back({*index, member.child("MessageId").text().as_string(),
                                 member.child("SequenceNumber").text().as_string()});
  }
  for (pugi::xml_node member : result_node.child("Failed").children("member")) {
    auto index = batch_entry_index(member.child("Id").text().as_string(), count);
    if (!index || seen[*index]) continue;
    seen[*index] = true;
    result.failed.push_back({*index, member.child("Code").text().as_string(),
                             member.child("Message").text().as_string(),
                             member.child("SenderFault").text().as_bool()});
  }
  report_missing_entries(seen, result.failed);
  return result;
}

SnsClient::SnsClient(ServiceClientOptions options)
    : endpoints_("sns", options.environment), client_("sns", std::move(options), &parse_sns_error) {}

HttpResponse SnsClient::post(std::string_view action, std::string_view resource,
                             const QueryParameters& parameters, std::stop_token stop) const {
  QueryParameters all;
  all.reserve(parameters.size() + 2);
  all.emplace_back("Action", action);
  all.emplace_back("Version", "2010-03-31");
  all.insert(all.end(), parameters.begin(), parameters.end());
  ServiceRequest request;
  request.endpoint = endpoints_.resolve(resource);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = form_encode(all);
  return client_.call(request, stop);
}

std::string SnsClient::publish(std::string_view topic_arn, const SnsMessage& message,
                               std::stop_token stop) const {
  QueryParameters parameters{{"TopicArn", std::string(topic_arn)}};
  add_message(parameters, "", message);
  auto response = post("Publish", topic_arn, parameters, stop);
  auto document = parse_xml(response, "Publish");
  auto id = text_at(document, {"PublishResult", "MessageId"});
  if (id.empty()) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse",
                   "Publish: no MessageId in the response", request_id_header(response));
  }
  return id;
}

SendBatchResult SnsClient::publish_batch(std::string_view topic_arn,
                                         std::span<const SnsMessage> messages,
                                         std::stop_token stop) const {
  if (messages.size() > kMaxBatch) {
    throw std::invalid_argument("PublishBatch takes at most 10 entries, got " +
                                std::to_string(messages.size()));
  }
  if (messages.empty()) return {};
  QueryParameters parameters{{"TopicArn", std::string(topic_arn)}};
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto prefix = "PublishBatchRequestEntries.member." + std::to_string(i + 1) + ".";
    parameters.emplace_back(prefix + "Id", std::to_string(i));
    add_message(parameters, prefix, messages[i]);
  }
  return parse_publish_batch_response(post("PublishBatch", topic_arn, parameters, stop),
                                      messages.size());
}

std::string SnsClient::create_topic(std::string_view name,
                                    const std::map<std::string, std::string>& attributes,
                                    std::stop_token stop) const {
  QueryParameters parameters{{"Name", std::string(name)}};
  add_map(parameters, attributes);
  auto response = post("CreateTopic", {}, parameters, stop);
  auto arn = text_at(parse_xml(response, "CreateTopic"), {"CreateTopicResult", "TopicArn"});
  if (arn.empty()) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse",
                   "CreateTopic: no TopicArn in the response", request_id_header(response));
  }
  return arn;
}

void SnsClient::delete_topic(std::string_view topic_arn, std::stop_token stop) const {
  post("DeleteTopic", topic_arn, {{"TopicArn", std::string(topic_arn)}}, stop);
}

std::string SnsClient::subscribe(std::string_view topic_arn, std::string_view protocol,
                                 std::string_view endpoint,
                                 const std::map<std::string, std::string>& attributes,
                                 std::stop_token stop) const {
  QueryParameters parameters{{"TopicArn", std::string(topic_arn)},
                             {"Protocol", std::string(protocol)},
                             {"Endpoint", std::string(endpoint)},
                             {"ReturnSubscriptionArn", "true"}};
  add_map(parameters, attributes);
  auto response = post("Subscribe", topic_arn, parameters, stop);
  return text_at(parse_xml(response, "Subscribe"), {"SubscribeResult", "SubscriptionArn"});
}

}  // namespace docvault::aws
