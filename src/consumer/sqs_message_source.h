// SqsMessageSource: the consumer's MessageSource over an SQS queue (and,
// optionally, a dead-letter queue), through aws::SqsClient.
//
// Thread-safety: as the SqsClient: any number of threads at once.
#pragma once

#include <optional>
#include <string>

#include "consumer/message_source.h"

namespace docvault::consumer {

class SqsMessageSource final : public MessageSource {
 public:
  // `sqs` must outlive the source.
  SqsMessageSource(const aws::SqsClient& sqs, std::string queue_url,
                   std::optional<std::string> dead_letter_queue_url = std::nullopt);

  std::vector<aws::ReceivedMessage> receive(const ReceiveOptions& options, std::stop_token stop) override;
  aws::BatchResult delete_messages(std::span<const std::string> receipt_handles, std::stop_token stop,
                                   const aws::CallLimits& limits) override;
  aws::BatchResult change_visibility(std::span<const aws::VisibilityChange> changes, std::stop_token stop,
                                     const aws::CallLimits& limits) override;
  void dead_letter(const aws::ReceivedMessage& message, std::string_view reason) override;
  bool has_dead_letter_queue() const override { return dead_letter_queue_url_.has_value(); }
  std::map<std::string, std::string> attributes(std::span<const std::string> names, std::stop_token stop) override;
  bool fifo() const override { return aws::is_fifo_queue(queue_url_); }
  std::string describe() const override { return queue_url_; }

 private:
  const aws::SqsClient& sqs_;
  const std::string queue_url_;
  const std::optional<std::string> dead_letter_queue_url_;
};

}  // namespace docvault::consumer
