#include "consumer/sqs_message_source.h"

#include <stdexcept>
#include <utility>

#include "domain/entity_event.h"

namespace docvault::consumer {

SqsMessageSource::SqsMessageSource(const aws::SqsClient& sqs, std::string queue_url,
                                   std::optional<std::string> dead_letter_queue_url)
    : sqs_(sqs), queue_url_(std::move(queue_url)), dead_letter_queue_url_(std::move(dead_letter_queue_url)) {}

std::vector<aws::ReceivedMessage> SqsMessageSource::receive(const ReceiveOptions& options, std::stop_token stop) {
  aws::ReceiveMessageRequest request;
  request.queue_url = queue_url_;
  request.max_messages = options.max_messages;
  request.wait_time_seconds = options.wait_time_seconds;
  request.visibility_timeout_seconds = options.visibility_timeout_seconds;
  request.limits = options.limits;
  return sqs_.receive_messages(request, stop);
}

aws::BatchResult SqsMessageSource::delete_messages(std::span<const std::string> receipt_handles,
                                                   std::stop_token stop, const aws::CallLimits& limits) {
  return sqs_.delete_message_batch(queue_url_, receipt_handles, stop, limits);
}

aws::BatchResult SqsMessageSource::change_visibility(std::span<const aws::VisibilityChange> changes,
                                                     std::stop_token stop, const aws::CallLimits& limits) {
  return sqs_.change_message_visibility_batch(queue_url_, changes, stop, limits);
}

void SqsMessageSource::dead_letter(const aws::ReceivedMessage& message, std::string_view reason) {
  if (!dead_letter_queue_url_) throw std::logic_error("no dead-letter queue is configured");
  // The copy stays in the original's X-Ray trace.
  const auto trace = message.attributes.find("AWSTraceHeader");
  aws::OutgoingSqsMessage dead{message.body, message.message_attributes, std::nullopt, "", "",
                               trace == message.attributes.end() ? std::string() : trace->second};
  dead.attributes["docvault_rejection_reason"] = aws::MessageAttributeValue{"String", std::string(reason), ""};
  if (aws::is_fifo_queue(*dead_letter_queue_url_)) {
    // The original's group when it had one, so the DLQ keeps its order; else
    // its event's entity. Its message id dedups a copy sent again after a
    // failed delete.
    if (auto group = message.attributes.find("MessageGroupId"); group != message.attributes.end()) {
      dead.message_group_id = group->second;
    } else if (auto event = parse_entity_event(message.body); event && aws::is_valid_fifo_id(event->entity_id)) {
      dead.message_group_id = event->entity_id;
    } else {
      dead.message_group_id = "docvault-rejected";
    }
    dead.message_deduplication_id = message.message_id;
  }
  std::vector<aws::OutgoingSqsMessage> one{std::move(dead)};
  auto result = sqs_.send_message_batch(*dead_letter_queue_url_, one);
  if (!result.all_succeeded()) {
    throw std::runtime_error("dead-letter send failed: " + result.failed.front().code + " " +
                             result.failed.front().message);
  }
}

std::map<std::string, std::string> SqsMessageSource::attributes(std::span<const std::string> names,
                                                                std::stop_token stop) {
  return sqs_.get_queue_attributes(queue_url_, names, stop);
}

}  // namespace docvault::consumer
