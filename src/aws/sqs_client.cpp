#include "aws/sqs_client.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <utility>

#include "aws/error_response.h"
#include "crypto/crypto.h"
#include "json/json_writer.h"

namespace docvault::aws {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxBatch = 10;

// A 2xx response we cannot read is the service's fault, not the caller's.
json parse_response(const HttpResponse& response, std::string_view action) {
  if (response.body.empty()) return json::object();
  auto parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    const std::string* request_id = response.header("x-amzn-RequestId");
    throw AwsError(static_cast<int>(response.status), "InvalidResponse",
                   std::string(action) + ": the response is not a JSON object",
                   request_id ? *request_id : "");
  }
  return parsed;
}

std::string string_field(const json& object, const char* key) {
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

MessageAttributes attributes_from_json(const json& object) {
  MessageAttributes out;
  if (!object.is_object()) return out;
  for (const auto& [name, value] : object.items()) {
    if (!value.is_object()) continue;
    out[name] = {string_field(value, "DataType"), string_field(value, "StringValue"),
                 string_field(value, "BinaryValue")};
  }
  return out;
}

void check_batch_size(std::size_t size, std::string_view action) {
  if (size > kMaxBatch) {
    throw std::invalid_argument(std::string(action) + " takes at most 10 entries, got " +
                                std::to_string(size));
  }
}

// Fills `failed` from the "Failed" list and for every entry in neither list;
// calls `on_success` for each successful entry and returns which were seen.
template <typename OnSuccess>
std::vector<BatchFailure> collect_batch(const json& response, std::size_t count, OnSuccess on_success) {
  std::vector<bool> seen(count, false);
  std::vector<BatchFailure> failed;
  if (auto list = response.find("Successful"); list != response.end() && list->is_array()) {
    for (const auto& entry : *list) {
      auto index = batch_entry_index(string_field(entry, "Id"), count);
      if (!index || seen[*index]) continue;
      seen[*index] = true;
      on_success(*index, entry, failed);
    }
  }
  if (auto list = response.find("Failed"); list != response.end() && list->is_array()) {
    for (const auto& entry : *list) {
      auto index = batch_entry_index(string_field(entry, "Id"), count);
      if (!index || seen[*index]) continue;
      seen[*index] = true;
      auto fault = entry.find("SenderFault");
      failed.push_back({*index, string_field(entry, "Code"), string_field(entry, "Message"),
                        fault != entry.end() && fault->is_boolean() && fault->get<bool>()});
    }
  }
  report_missing_entries(seen, failed);
  return failed;
}

BatchResult plain_batch(const json& response, std::size_t count) {
  BatchResult result;
  result.failed = collect_batch(response, count, [&](std::size_t index, const json&, auto&) {
    result.successful.push_back(index);
  });
  return result;
}

}  // namespace

AwsError parse_sqs_error(const HttpResponse& response) { return error_from_response(response, "UnknownError"); }

std::vector<ReceivedMessage> parse_receive_message_response(const HttpResponse& raw) {
  auto response = parse_response(raw, "ReceiveMessage");

  std::vector<ReceivedMessage> messages;
  auto list = response.find("Messages");
  if (list == response.end() || !list->is_array()) return messages;
  messages.reserve(list->size());
  for (const auto& entry : *list) {
    if (!entry.is_object()) continue;
    ReceivedMessage message;
    message.message_id = string_field(entry, "MessageId");
    message.receipt_handle = string_field(entry, "ReceiptHandle");
    message.body = string_field(entry, "Body");
    message.md5_of_body = string_field(entry, "MD5OfBody");
    if (auto attributes = entry.find("Attributes");
        attributes != entry.end() && attributes->is_object()) {
      for (const auto& [name, value] : attributes->items()) {
        if (value.is_string()) message.attributes[name] = value.get<std::string>();
      }
    }
    if (auto attributes = entry.find("MessageAttributes"); attributes != entry.end()) {
      message.message_attributes = attributes_from_json(*attributes);
    }
    if (message.md5_of_body.empty()) {
      message.integrity_error = "SQS sent no MD5OfBody";
    } else if (auto actual = crypto::md5_hex(message.body); actual != message.md5_of_body) {
      message.integrity_error =
          "body MD5 " + actual + " does not match MD5OfBody " + message.md5_of_body;
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

BatchResult parse_batch_response(const HttpResponse& response, std::size_t count) {
  return plain_batch(parse_response(response, "batch call"), count);
}

SqsClient::SqsClient(ServiceClientOptions options)
    : endpoints_("sqs", options.environment), client_("sqs", std::move(options), &parse_sqs_error) {}

ServiceRequest SqsClient::request(std::string_view action, std::string_view queue_url, std::string body,
                                  std::chrono::milliseconds timeout, const CallLimits& limits) const {
  ServiceRequest request;
  request.endpoint = endpoints_.resolve(queue_url);
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", "AmazonSQS." + std::string(action)}};
  request.body = std::move(body);
  request.timeout = timeout;
  request.limit(limits);
  return request;
}

HttpResponse SqsClient::post(std::string_view action, std::string_view queue_url, std::string body,
                            std::chrono::milliseconds timeout, std::stop_token stop,
                            const CallLimits& limits) const {
  return client_.call(request(action, queue_url, std::move(body), timeout, limits), stop);
}

std::vector<ReceivedMessage> SqsClient::receive_messages(const ReceiveMessageRequest& request,
                                                         std::stop_token stop) const {
  if (request.max_messages < 1 || request.max_messages > 10) {
    throw std::invalid_argument("ReceiveMessage: MaxNumberOfMessages must be 1..10");
  }
  if (request.wait_time_seconds < 0 || request.wait_time_seconds > 20) {
    throw std::invalid_argument("ReceiveMessage: WaitTimeSeconds must be 0..20");
  }
  json body = {{"QueueUrl", request.queue_url},
               {"MaxNumberOfMessages", request.max_messages},
               {"WaitTimeSeconds", request.wait_time_seconds},
               {"MessageSystemAttributeNames", request.system_attribute_names},
               {"MessageAttributeNames", request.message_attribute_names}};
  if (request.visibility_timeout_seconds) {
    body["VisibilityTimeout"] = *request.visibility_timeout_seconds;
  }
  // The service holds a long poll open for its wait time; give it room to answer.
  auto timeout = request.wait_time_seconds > 0
                     ? std::chrono::milliseconds(std::chrono::seconds(request.wait_time_seconds + 15))
                     : std::chrono::milliseconds(0);
  return parse_receive_message_response(
      post("ReceiveMessage", request.queue_url, body.dump(), timeout, stop, request.limits));
}

BatchResult SqsClient::delete_message_batch(std::string_view queue_url,
                                            std::span<const std::string> receipt_handles,
                                            std::stop_token stop, const CallLimits& limits) const {
  check_batch_size(receipt_handles.size(), "DeleteMessageBatch");
  if (receipt_handles.empty()) return {};
  json entries = json::array();
  for (std::size_t i = 0; i < receipt_handles.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", receipt_handles[i]}});
  }
  json body = {{"QueueUrl", queue_url}, {"Entries", std::move(entries)}};
  auto raw = post("DeleteMessageBatch", queue_url, body.dump(), {}, stop, limits);
  return plain_batch(parse_response(raw, "DeleteMessageBatch"), receipt_handles.size());
}

BatchResult SqsClient::change_message_visibility_batch(std::string_view queue_url,
                                                       std::span<const VisibilityChange> changes,
                                                       std::stop_token stop, const CallLimits& limits) const {
  check_batch_size(changes.size(), "ChangeMessageVisibilityBatch");
  if (changes.empty()) return {};
  json entries = json::array();
  for (std::size_t i = 0; i < changes.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)},
                       {"ReceiptHandle", changes[i].receipt_handle},
                       {"VisibilityTimeout", changes[i].visibility_timeout_seconds}});
  }
  json body = {{"QueueUrl", queue_url}, {"Entries", std::move(entries)}};
  auto raw = post("ChangeMessageVisibilityBatch", queue_url, body.dump(), {}, stop, limits);
  return plain_batch(parse_response(raw, "ChangeMessageVisibilityBatch"), changes.size());
}

SendBatchResult SqsClient::send_message_batch(std::string_view queue_url,
                                              std::span<const OutgoingSqsMessage> messages,
                                              std::stop_token stop, const CallLimits& limits) const {
  if (messages.empty()) return {};
  return parse_send_message_batch_response(client_.call(send_message_batch_request(queue_url, messages, limits), stop),
                                           messages);
}

ServiceRequest SqsClient::send_message_batch_request(std::string_view queue_url,
                                                     std::span<const OutgoingSqsMessage> messages,
                                                     const CallLimits& limits) const {
  if (messages.empty()) throw std::invalid_argument("SendMessageBatch takes 1 to 10 entries, got 0");
  check_batch_size(messages.size(), "SendMessageBatch");
  // Written directly: the bodies are most of the request, and a JSON tree
  // would copy each of them twice before escaping it.
  std::size_t bytes = queue_url.size() + 64;
  for (const auto& message : messages) bytes += message.body.size() + message.body.size() / 8 + 256;
  docvault::json::JsonWriter body(bytes);
  body.open().string("QueueUrl", queue_url).key("Entries").open_array();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    body.open().string("Id", std::to_string(i)).string("MessageBody", message.body);
    if (!message.attributes.empty()) {
      body.key("MessageAttributes").open();
      for (const auto& [name, value] : message.attributes) {
        body.key(name).open().string("DataType", value.data_type);
        if (value.data_type.starts_with("Binary")) {
          body.string("BinaryValue", value.binary_value);
        } else {
          body.string("StringValue", value.string_value);
        }
        body.close();
      }
      body.close();
    }
    if (message.delay_seconds) {
      if (*message.delay_seconds < 0 || *message.delay_seconds > 900) {
        throw std::invalid_argument("SendMessageBatch: DelaySeconds must be 0..900");
      }
      body.number("DelaySeconds", static_cast<std::uint64_t>(*message.delay_seconds));
    }
    if (!message.message_group_id.empty()) body.string("MessageGroupId", message.message_group_id);
    if (!message.message_deduplication_id.empty()) {
      body.string("MessageDeduplicationId", message.message_deduplication_id);
    }
    if (!message.aws_trace_header.empty()) {
      body.key("MessageSystemAttributes").open().key("AWSTraceHeader").open();
      body.string("DataType", "String").string("StringValue", message.aws_trace_header).close().close();
    }
    body.close();
  }
  body.close_array().close();
  return request("SendMessageBatch", queue_url, std::move(body).finish(), {}, limits);
}

SendBatchResult parse_send_message_batch_response(const HttpResponse& raw,
                                                  std::span<const OutgoingSqsMessage> messages) {
  auto response = parse_response(raw, "SendMessageBatch");

  SendBatchResult result;
  result.failed = collect_batch(
      response, messages.size(),
      [&](std::size_t index, const json& entry, std::vector<BatchFailure>& failed) {
        auto md5 = string_field(entry, "MD5OfMessageBody");
        if (md5 != crypto::md5_hex(messages[index].body)) {
          failed.push_back({index, "MD5OfMessageBodyMismatch",
                            "SQS stored a body whose MD5 differs from the one sent", false});
          return;
        }
        result.successful.push_back(
            {index, string_field(entry, "MessageId"), string_field(entry, "SequenceNumber")});
      });
  return result;
}

std::map<std::string, std::string> SqsClient::get_queue_attributes(
    std::string_view queue_url, std::span<const std::string> names, std::stop_token stop) const {
  json body = {{"QueueUrl", queue_url},
               {"AttributeNames", std::vector<std::string>(names.begin(), names.end())}};
  auto raw = post("GetQueueAttributes", queue_url, body.dump(), {}, stop);
  auto response = parse_response(raw, "GetQueueAttributes");
  std::map<std::string, std::string> attributes;
  if (auto found = response.find("Attributes"); found != response.end() && found->is_object()) {
    for (const auto& [name, value] : found->items()) {
      if (value.is_string()) attributes[name] = value.get<std::string>();
    }
  }
  return attributes;
}

std::string SqsClient::create_queue(std::string_view name,
                                    const std::map<std::string, std::string>& attributes,
                                    std::stop_token stop) const {
  json body = {{"QueueName", name}};
  if (!attributes.empty()) body["Attributes"] = attributes;
  auto raw = post("CreateQueue", {}, body.dump(), {}, stop);
  auto url = string_field(parse_response(raw, "CreateQueue"), "QueueUrl");
  if (url.empty()) throw AwsError(200, "InvalidResponse", "CreateQueue: no QueueUrl in the response");
  return url;
}

void SqsClient::delete_queue(std::string_view queue_url, std::stop_token stop) const {
  json body = {{"QueueUrl", queue_url}};
  post("DeleteQueue", queue_url, body.dump(), {}, stop);
}

}  // namespace docvault::aws
