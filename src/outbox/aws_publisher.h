// The relay's Publishers over AWS: SNS PublishBatch for the audit topic, SQS
// SendMessageBatch for the document-events queue. On a FIFO topic or queue
// (name ending in .fifo) an entry's ordering key is its MessageGroupId and
// its event id its MessageDeduplicationId; elsewhere neither is sent. Their
// calls run at once through aws::ServiceCalls (with the clients' retries), on
// one curl multi handle per PublishCalls.
//
// Thread-safety: as the clients: any number of threads at once, each with
// its own PublishCalls.
#pragma once

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "outbox/publisher.h"

namespace docvault::outbox {

class SnsPublisher final : public Publisher {
 public:
  // `sns` must outlive the publisher.
  explicit SnsPublisher(const aws::SnsClient& sns) : sns_(sns) {}
  std::unique_ptr<PublishCalls> concurrent() override;

 private:
  const aws::SnsClient& sns_;
};

class SqsPublisher final : public Publisher {
 public:
  // `sqs` must outlive the publisher.
  explicit SqsPublisher(const aws::SqsClient& sqs) : sqs_(sqs) {}
  std::unique_ptr<PublishCalls> concurrent() override;

 private:
  const aws::SqsClient& sqs_;
};

}  // namespace docvault::outbox
