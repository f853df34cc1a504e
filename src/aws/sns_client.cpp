#include "aws/sns_client.h"

#include <pugixml.hpp>

#include <stdexcept>

#include "aws/error_response.h"
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

void add_attributes(FormBody& out, std::string_view prefix, const MessageAttributes& attributes) {
  std::size_t n = 0;
  for (const auto& [name, value] : attributes) {
    const std::string number = std::to_string(++n);
    out.add({prefix, "MessageAttributes.entry.", number, ".Name"}, name);
    out.add({prefix, "MessageAttributes.entry.", number, ".Value.DataType"}, value.data_type);
    if (value.data_type.starts_with("Binary")) {
      out.add({prefix, "MessageAttributes.entry.", number, ".Value.BinaryValue"}, value.binary_value);
    } else {
      out.add({prefix, "MessageAttributes.entry.", number, ".Value.StringValue"}, value.string_value);
    }
  }
}

void add_message(FormBody& out, std::string_view prefix, const SnsMessage& message) {
  out.add({prefix, "Message"}, message.message);
  if (!message.subject.empty()) out.add({prefix, "Subject"}, message.subject);
  add_attributes(out, prefix, message.attributes);
  if (!message.message_group_id.empty()) out.add({prefix, "MessageGroupId"}, message.message_group_id);
  if (!message.message_deduplication_id.empty()) {
    out.add({prefix, "MessageDeduplicationId"}, message.message_deduplication_id);
  }
}

// Attributes.entry.N.key / .value, as CreateTopic and Subscribe take them.
void add_map(FormBody& out, const std::map<std::string, std::string>& attributes) {
  std::size_t n = 0;
  for (const auto& [key, value] : attributes) {
    const std::string number = std::to_string(++n);
    out.add({"Attributes.entry.", number, ".key"}, key);
    out.add({"Attributes.entry.", number, ".value"}, value);
  }
}

}  // namespace

FormBody::FormBody(std::string_view action, std::size_t reserve) {
  text_.reserve(reserve);
  add("Action", action);
  add("Version", "2010-03-31");
}

FormBody& FormBody::add(std::initializer_list<std::string_view> key, std::string_view value) {
  if (!text_.empty()) text_ += '&';
  for (auto part : key) append_uri_encoded(text_, part);
  text_ += '=';
  append_uri_encoded(text_, value);
  return *this;
}

AwsError parse_sns_error(const HttpResponse& response) { return error_from_response(response, "UnknownError"); }

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

ServiceRequest SnsClient::request(std::string_view resource, FormBody form, const CallLimits& limits) const {
  ServiceRequest request;
  request.endpoint = endpoints_.resolve(resource);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = std::move(form).take();
  request.limit(limits);
  return request;
}

HttpResponse SnsClient::post(std::string_view resource, FormBody form, std::stop_token stop,
                             const CallLimits& limits) const {
  return client_.call(request(resource, std::move(form), limits), stop);
}

std::string SnsClient::publish(std::string_view topic_arn, const SnsMessage& message,
                               std::stop_token stop) const {
  FormBody form("Publish");
  form.add("TopicArn", topic_arn);
  add_message(form, "", message);
  auto response = post(topic_arn, std::move(form), stop);
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
                                         std::stop_token stop, const CallLimits& limits) const {
  if (messages.empty()) return {};
  return parse_publish_batch_response(client_.call(publish_batch_request(topic_arn, messages, limits), stop),
                                      messages.size());
}

ServiceRequest SnsClient::publish_batch_request(std::string_view topic_arn, std::span<const SnsMessage> messages,
                                                const CallLimits& limits) const {
  if (messages.empty() || messages.size() > kMaxBatch) {
    throw std::invalid_argument("PublishBatch takes 1 to 10 entries, got " + std::to_string(messages.size()));
  }
  std::size_t bytes = topic_arn.size() + 64;
  for (const auto& m : messages) bytes += m.message.size() * 2 + 512;  // JSON escapes heavily
  FormBody form("PublishBatch", bytes);
  form.add("TopicArn", topic_arn);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string prefix = "PublishBatchRequestEntries.member." + std::to_string(i + 1) + ".";
    form.add({prefix, "Id"}, std::to_string(i));
    add_message(form, prefix, messages[i]);
  }
  return request(topic_arn, std::move(form), limits);
}

std::string SnsClient::create_topic(std::string_view name,
                                    const std::map<std::string, std::string>& attributes,
                                    std::stop_token stop) const {
  FormBody form("CreateTopic");
  form.add("Name", name);
  add_map(form, attributes);
  auto response = post({}, std::move(form), stop);
  auto arn = text_at(parse_xml(response, "CreateTopic"), {"CreateTopicResult", "TopicArn"});
  if (arn.empty()) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse",
                   "CreateTopic: no TopicArn in the response", request_id_header(response));
  }
  return arn;
}

void SnsClient::delete_topic(std::string_view topic_arn, std::stop_token stop) const {
  post(topic_arn, std::move(FormBody("DeleteTopic").add("TopicArn", topic_arn)), stop);
}

std::string SnsClient::subscribe(std::string_view topic_arn, std::string_view protocol,
                                 std::string_view endpoint,
                                 const std::map<std::string, std::string>& attributes,
                                 std::stop_token stop) const {
  FormBody form("Subscribe");
  form.add("TopicArn", topic_arn).add("Protocol", protocol).add("Endpoint", endpoint).add("ReturnSubscriptionArn", "true");
  add_map(form, attributes);
  auto response = post(topic_arn, std::move(form), stop);
  return text_at(parse_xml(response, "Subscribe"), {"SubscribeResult", "SubscriptionArn"});
}

}  // namespace docvault::aws
