// The consumer in-process over a scripted SQS: what the local emulator cannot
// show or a black-box test cannot see. Real SQS may hand several messages of
// one FIFO group to one receive (the emulator hands one at a time); when the
// first fails, the rest of the group must be released unprocessed so that the
// group is redelivered in order. And a receive's messages are handled in one
// transaction, unless one of them fails it.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "blob/filesystem_blob_store.h"
#include "consumer/consumer.h"
#include "crypto/crypto.h"
#include "forwarding_store.h"
#include "runtime/clock.h"
#include "test_env.h"

namespace docvault::consumer {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string event_body(const std::string& entity) {
  return json{{"event_id", "evt-" + entity}, {"source", "s"}, {"action", "entity.deleted"},
              {"entity_id", entity}, {"entity_type", "issuer"}}
      .dump();
}

// Answers SQS JSON calls: one ReceiveMessage with the scripted messages, then
// empty polls; records deletes and visibility changes.
class ScriptedSqs final : public aws::HttpTransport {
 public:
  explicit ScriptedSqs(std::vector<std::pair<std::string, std::string>> messages)  // group ("": none), entity
      : messages_(std::move(messages)) {}

  aws::HttpResponse send(const aws::HttpRequest& request, std::stop_token stop) override {
    std::string target;
    for (const auto& h : request.headers) {
      if (h.name == "X-Amz-Target") target = h.value;
    }
    auto body = json::parse(request.payload());
    std::lock_guard lock(mutex_);
    if (target == "AmazonSQS.GetQueueAttributes") return ok({{"Attributes", {{"VisibilityTimeout", "30"}}}});
    if (target == "AmazonSQS.ReceiveMessage") {
      if (delivered_) {
        mutex_.unlock();
        // An empty long poll, shortened: a delay of the fake server's, which
        // a stop cuts short as a cancelled long poll is.
        runtime::system_clock().sleep_for(20ms, stop);
        mutex_.lock();
        if (stop.stop_requested()) throw aws::RequestCancelled();
        return ok(json::object());
      }
      delivered_ = true;
      json out = json::array();
      for (const auto& [group, entity] : messages_) {
        auto text = event_body(entity);
        json attributes{{"ApproximateReceiveCount", "1"}};
        if (!group.empty()) attributes["MessageGroupId"] = group;
        out.push_back({{"MessageId", "msg-" + entity},
                       {"ReceiptHandle", "rh-" + entity},
                       {"Body", text},
                       {"MD5OfBody", crypto::md5_hex(text)},
                       {"Attributes", attributes}});
      }
      return ok({{"Messages", out}});
    }
    json successful = json::array();
    for (const auto& entry : body["Entries"]) {
      successful.push_back({{"Id", entry["Id"]}});
      if (target == "AmazonSQS.DeleteMessageBatch") deleted.push_back(entry["ReceiptHandle"]);
      if (target == "AmazonSQS.ChangeMessageVisibilityBatch" && entry["VisibilityTimeout"] == 0) {
        released.push_back(entry["ReceiptHandle"]);
      }
    }
    return ok({{"Successful", successful}, {"Failed", json::array()}});
  }

  std::vector<std::string> snapshot(const std::vector<std::string>& v) {
    std::lock_guard lock(mutex_);
    return v;
  }

  std::vector<std::string> deleted, released;  // guarded by mutex_

 private:
  static aws::HttpResponse ok(const json& body) { return {200, {}, body.dump()}; }
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> messages_;
  bool delivered_ = false;
};

// Fails every transaction that writes outbox rows for entity a1, and counts
// write transactions.
class FailingA1 final : public docvault::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::atomic<int> transactions{0};

 protected:
  std::unique_ptr<store::Transaction> wrap_transaction(store::Transaction& tx) override {
    struct Tx final : docvault::testing::ForwardingTransaction {
      using ForwardingTransaction::ForwardingTransaction;
      void append_outbox(std::span<const OutboxMessage> m) override {
        // An error of this message's transaction, not an outage: the breaker stays closed.
        if (std::any_of(m.begin(), m.end(), [](const OutboxMessage& o) { return o.ordering_key == "a1"; })) {
          throw store::StoreError("injected failure");
        }
        ForwardingTransaction::append_outbox(m);
      }
    };
    ++transactions;
    return std::make_unique<Tx>(tx);
  }
};

// The consumer, its store and a scripted SQS, for one test.
struct Harness {
  explicit Harness(std::vector<std::pair<std::string, std::string>> messages, const std::string& queue_url)
      : real(store::open_store({"", dir.path() / "db.sqlite3", 2})),
        store((real->migrate(), *real)),
        blobs(dir.path() / "blobs"),
        documents(store, blobs, clock),
        sqs_transport(std::make_shared<ScriptedSqs>(messages)) {
    service::DocumentService seeding(*real, blobs, clock);
    for (const auto& [group, entity] : messages) {
      EXPECT_TRUE(seeding.create({entity, "issuer", std::nullopt, "f", "text/plain"}, entity, Actor::anonymous()));
    }
    aws::ServiceClientOptions options;
    options.environment = aws::fixed_environment({{"AWS_REGION", "us-east-1"}});
    options.transport = sqs_transport;
    options.credentials = std::make_shared<aws::StaticCredentialsProvider>(aws::Credentials{"AKID", "secret", "", {}});
    sqs.emplace(options);
    ConsumerOptions consumer_options;
    consumer_options.queue_url = queue_url;
    consumer_options.max_messages = 10;
    consumer_options.wait_time_seconds = 1;
    consumer_options.concurrency = 4;
    consumer.emplace(*sqs, documents, clock, consumer_options, registry);
  }

  std::vector<std::string> sorted(const std::vector<std::string>& v) {
    auto copy = sqs_transport->snapshot(v);
    std::sort(copy.begin(), copy.end());
    return copy;
  }
  DocumentStatus status(const std::string& entity) {
    return documents.list({entity, "issuer", std::nullopt, std::nullopt, std::nullopt}).value().items.at(0).status;
  }

  docvault::testing::TempDir dir;
  std::unique_ptr<store::Store> real;
  FailingA1 store;
  blob::FilesystemBlobStore blobs;
  SystemClock clock;
  service::DocumentService documents;
  std::shared_ptr<ScriptedSqs> sqs_transport;
  std::optional<aws::SqsClient> sqs;
  metrics::Registry registry;
  std::optional<DocumentVaultConsumer> consumer;
};

TEST(FifoHoldBack, AFailedMessageHoldsBackTheRestOfItsGroupOnly) {
  Harness h({{"A", "a1"}, {"A", "a2"}, {"A", "a3"}, {"B", "b1"}, {"B", "b2"}},
            "https://sqs.us-east-1.amazonaws.com/123456789012/events.fifo");
  h.consumer->start();
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    return h.sorted(h.sqs_transport->deleted).size() == 2 && h.sorted(h.sqs_transport->released).size() == 2;
  })) << "deleted " << h.sorted(h.sqs_transport->deleted).size() << ", released "
      << h.sorted(h.sqs_transport->released).size();
  h.consumer->stop();

  EXPECT_EQ(h.sorted(h.sqs_transport->deleted), (std::vector<std::string>{"rh-b1", "rh-b2"}));
  EXPECT_EQ(h.sorted(h.sqs_transport->released), (std::vector<std::string>{"rh-a2", "rh-a3"}));  // a1: its timeout
  EXPECT_EQ(h.status("a2"), DocumentStatus::active);
  EXPECT_EQ(h.status("a3"), DocumentStatus::active);
  EXPECT_EQ(h.status("b2"), DocumentStatus::archived);
  EXPECT_EQ(h.registry.counter("docvault_consumer_messages_failed_total", "", {{"reason", "database"}}).value(), 1);
  EXPECT_EQ(h.registry.counter("docvault_consumer_messages_released_total", "").value(), 2);
  EXPECT_NE(h.registry.expose().find("docvault_consumer_events_processed_total 2"), std::string::npos);
}

TEST(ReceiveBatch, IsHandledInOneTransaction) {
  Harness h({{"", "c1"}, {"", "c2"}, {"", "c3"}, {"", "c4"}, {"", "c5"}},
            "https://sqs.us-east-1.amazonaws.com/123456789012/events");
  h.consumer->start();
  ASSERT_TRUE(docvault::testing::wait_until([&] { return h.sorted(h.sqs_transport->deleted).size() == 5; }));
  h.consumer->stop();

  EXPECT_EQ(h.store.transactions.load(), 1);
  for (const char* entity : {"c1", "c2", "c3", "c4", "c5"}) EXPECT_EQ(h.status(entity), DocumentStatus::archived);
  EXPECT_NE(h.registry.expose().find("docvault_consumer_events_processed_total 5"), std::string::npos);
  EXPECT_NE(h.registry.expose().find("docvault_documents_archived_total 5"), std::string::npos);
}

TEST(ReceiveBatch, AMessageThatFailsTheBatchFailsAloneAndTheOthersGoThrough) {
  Harness h({{"", "c1"}, {"", "a1"}, {"", "c2"}, {"", "c3"}},
            "https://sqs.us-east-1.amazonaws.com/123456789012/events");
  h.consumer->start();
  ASSERT_TRUE(docvault::testing::wait_until([&] { return h.sorted(h.sqs_transport->deleted).size() == 3; }));
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    return h.registry.counter("docvault_consumer_messages_failed_total", "", {{"reason", "database"}}).value() == 1;
  }));
  h.consumer->stop();

  EXPECT_EQ(h.sorted(h.sqs_transport->deleted), (std::vector<std::string>{"rh-c1", "rh-c2", "rh-c3"}));
  EXPECT_TRUE(h.sorted(h.sqs_transport->released).empty());  // a1 is left for its visibility timeout
  EXPECT_EQ(h.store.transactions.load(), 1 + 4);             // the batch, rolled back; then one each
  EXPECT_EQ(h.status("a1"), DocumentStatus::active);
  for (const char* entity : {"c1", "c2", "c3"}) EXPECT_EQ(h.status(entity), DocumentStatus::archived);
  EXPECT_EQ(h.consumer->status().breaker, "closed");
}

}  // namespace
}  // namespace docvault::consumer
