#include "outbox/aws_publisher.h"

#include "aws/service_client.h"
#include "domain/trace.h"

namespace docvault::outbox {
namespace {

bool is_fifo(std::string_view target) { return target.ends_with(".fifo"); }

std::vector<EntryFailure> failures_of(const aws::SendBatchResult& result) {
  std::vector<EntryFailure> failures;
  failures.reserve(result.failed.size());
  for (const auto& f : result.failed) {
    failures.push_back({f.index, f.code + ": " + f.message, std::string(aws::entry_error_category(f.code, f.sender_fault))});
  }
  return failures;
}

}  // namespace

std::vector<EntryFailure> SnsPublisher::publish(const std::string& target, std::span<PublishEntry> entries,
                                                std::stop_token stop, const aws::CallLimits& limits) {
  const bool fifo = is_fifo(target);
  std::vector<aws::SnsMessage> messages;
  messages.reserve(entries.size());
  for (auto& e : entries) {
    messages.push_back(aws::SnsMessage{std::move(e.payload), "", std::move(e.attributes),
                                       fifo ? e.ordering_key : "", fifo ? e.event_id : ""});
  }
  return failures_of(sns_.publish_batch(target, messages, stop, limits));
}

std::vector<EntryFailure> SqsPublisher::publish(const std::string& target, std::span<PublishEntry> entries,
                                                std::stop_token stop, const aws::CallLimits& limits) {
  const bool fifo = is_fifo(target);
  std::vector<aws::OutgoingSqsMessage> messages;
  messages.reserve(entries.size());
  for (auto& e : entries) {
    // X-Ray reads SQS's AWSTraceHeader system attribute: the row's
    // traceparent in that form.
    std::string trace_header;
    if (auto it = e.attributes.find("traceparent"); it != e.attributes.end()) {
      if (auto trace = parse_traceparent(it->second.string_value)) {
        trace_header = Trace{trace->trace_id, trace->parent_id, trace->sampled, ""}.aws_trace_header();
      }
    }
    messages.push_back(aws::OutgoingSqsMessage{std::move(e.payload), std::move(e.attributes), std::nullopt,
                                               fifo ? e.ordering_key : "", fifo ? e.event_id : "",
                                               std::move(trace_header)});
  }
  return failures_of(sqs_.send_message_batch(target, messages, stop, limits));
}

}  // namespace docvault::outbox
