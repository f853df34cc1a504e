#include "outbox/aws_publisher.h"

#include <functional>
#include <map>

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

// One batch call: its request, and how its 2xx answer reads (with what it
// needs of the entries sent).
struct BatchCall {
  aws::ServiceRequest request;
  std::function<aws::SendBatchResult(const aws::HttpResponse&)> read;
};

// Batch calls of one client at once, through aws::ServiceCalls; `prepare`
// turns the entries into the call.
class BatchCalls final : public PublishCalls {
 public:
  using Prepare = std::function<BatchCall(const std::string& target, std::span<PublishEntry> entries,
                                          const aws::CallLimits& limits)>;

  BatchCalls(const aws::ServiceClient& client, Prepare prepare) : prepare_(std::move(prepare)), calls_(client) {}

  void start(std::size_t tag, const std::string& target, std::span<PublishEntry> entries,
             const aws::CallLimits& limits) override {
    const auto id = next_id_++;
    auto& pending = pending_.emplace(id, Pending{tag, prepare_(target, entries, limits)}).first->second;
    try {
      calls_.start(id, pending.call.request);
    } catch (...) {
      pending_.erase(id);
      throw;
    }
  }

  std::vector<Done> wait() override {
    std::vector<Done> done;
    for (auto& ended : calls_.wait()) {
      auto it = pending_.find(ended.tag);
      if (it == pending_.end()) continue;
      Done result{it->second.tag, {}, ended.error};
      if (!result.error) {
        try {
          result.failures = failures_of(it->second.call.read(ended.response));
        } catch (...) {
          result.error = std::current_exception();
        }
      }
      done.push_back(std::move(result));
      pending_.erase(it);
    }
    return done;
  }

 private:
  struct Pending {
    std::size_t tag = 0;
    BatchCall call;
  };
  Prepare prepare_;
  std::map<std::uint64_t, Pending> pending_;  // before calls_: outlives the requests it lends
  aws::ServiceCalls calls_;
  std::uint64_t next_id_ = 0;
};

}  // namespace

std::unique_ptr<PublishCalls> SnsPublisher::concurrent() {
  return std::make_unique<BatchCalls>(
      sns_.service(), [this](const std::string& target, std::span<PublishEntry> entries, const aws::CallLimits& limits) {
        const bool fifo = is_fifo(target);
        std::vector<aws::SnsMessage> messages;
        messages.reserve(entries.size());
        for (auto& e : entries) {
          messages.push_back(aws::SnsMessage{std::move(e.payload), "", std::move(e.attributes),
                                             fifo ? e.ordering_key : "", fifo ? e.event_id : ""});
        }
        const std::size_t count = messages.size();
        return BatchCall{sns_.publish_batch_request(target, messages, limits), [count](const aws::HttpResponse& response) {
                           return aws::parse_publish_batch_response(response, count);
                         }};
      });
}

std::unique_ptr<PublishCalls> SqsPublisher::concurrent() {
  return std::make_unique<BatchCalls>(
      sqs_.service(), [this](const std::string& target, std::span<PublishEntry> entries, const aws::CallLimits& limits) {
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
        auto request = sqs_.send_message_batch_request(target, messages, limits);
        // The answer is checked against each body's MD5: the messages stay with the call.
        return BatchCall{std::move(request), [messages = std::move(messages)](const aws::HttpResponse& response) {
                           return aws::parse_send_message_batch_response(response, messages);
                         }};
      });
}

}  // namespace docvault::outbox
