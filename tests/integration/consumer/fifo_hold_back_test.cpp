// The consumer in-process over a scripted SQS: what the local emulator cannot
// show. Real SQS may hand several messages of one FIFO group to one receive
// (the emulator hands one at a time); when the first fails, the rest of the
// group must be released unprocessed so that the group is redelivered in order.
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "blob/filesystem_blob_store.h"
#include "consumer/consumer.h"
#include "crypto/crypto.h"
#include "forwarding_store.h"
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
  explicit ScriptedSqs(std::vector<std::pair<std::string, std::string>> messages)  // group, entity
      : messages_(std::move(messages)) {}

  aws::HttpResponse send(const aws::HttpRequest& request, std::stop_token stop) override {
    std::string target;
    for (const auto& h : request.headers) {
      if (h.name == "X-Amz-Target") target = h.value;
    }
    auto body = json::parse(request.body);
    std::lock_guard lock(mutex_);
    if (target == "AmazonSQS.GetQueueAttributes") return ok({{"Attributes", {{"VisibilityTimeout", "30"}}}});
    if (target == "AmazonSQS.ReceiveMessage") {
      if (delivered_) {
        mutex_.unlock();
        std::this_thread::sleep_for(20ms);  // an empty long poll, shortened
        mutex_.lock();
        if (stop.stop_requested()) throw aws::RequestCancelled();
        return ok(json::object());
      }
      delivered_ = true;
      json out = json::array();
      for (const auto& [group, entity] : messages_) {
        auto text = event_body(entity);
        out.push_back({{"MessageId", "msg-" + entity},
                       {"ReceiptHandle", "rh-" + entity},
                       {"Body", text},
                       {"MD5OfBody", crypto::md5_hex(text)},
                       {"Attributes", {{"MessageGroupId", group}, {"ApproximateReceiveCount", "1"}}}});
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

// Fails every transaction that writes outbox rows for entity a1.
class FailingA1 final : public docvault::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

 protected:
  std::unique_ptr<store::Transaction> wrap_transaction(store::Transaction& tx) override {
    struct Tx final : docvault::testing::ForwardingTransaction {
      using ForwardingTransaction::ForwardingTransaction;
      void append_outbox(std::span<const OutboxMessage> m) override {
        // An error of this message's transaction, not an outage: the breaker stays closed.
        if (!m.empty() && m.front().ordering_key == "a1") throw store::StoreError("injected failure");
        ForwardingTransaction::append_outbox(m);
      }
    };
    return std::make_unique<Tx>(tx);
  }
};

TEST(FifoHoldBack, AFailedMessageHoldsBackTheRestOfItsGroupOnly) {
  docvault::testing::TempDir dir;
  auto real = store::open_store({"", dir.path() / "db.sqlite3", 2});
  real->migrate();
  FailingA1 store(*real);
  blob::FilesystemBlobStore blobs(dir.path() / "blobs");
  SystemClock clock;
  service::DocumentService documents(store, blobs, clock);
  service::DocumentService seeding(*real, blobs, clock);
  for (const char* entity : {"a1", "a2", "a3", "b1", "b2"}) {
    ASSERT_TRUE(seeding.create({entity, "issuer", std::nullopt, "f", "text/plain"}, entity, Actor::anonymous()));
  }

  auto sqs_transport = std::make_shared<ScriptedSqs>(std::vector<std::pair<std::string, std::string>>{
      {"A", "a1"}, {"A", "a2"}, {"A", "a3"}, {"B", "b1"}, {"B", "b2"}});
  aws::ServiceClientOptions options;
  options.environment = aws::fixed_environment({{"AWS_REGION", "us-east-1"}});
  options.transport = sqs_transport;
  options.credentials = std::make_shared<aws::StaticCredentialsProvider>(aws::Credentials{"AKID", "secret", "", {}});
  aws::SqsClient sqs(options);

  ConsumerOptions consumer_options;
  consumer_options.queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/events.fifo";
  consumer_options.max_messages = 10;
  consumer_options.wait_time_seconds = 1;
  consumer_options.concurrency = 4;
  metrics::Registry registry;
  DocumentVaultConsumer consumer(sqs, documents, clock, consumer_options, registry);
  consumer.start();
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    return sqs_transport->snapshot(sqs_transport->deleted).size() == 2 &&
           sqs_transport->snapshot(sqs_transport->released).size() == 2;
  })) << "deleted " << sqs_transport->snapshot(sqs_transport->deleted).size() << ", released "
      << sqs_transport->snapshot(sqs_transport->released).size();
  consumer.stop();

  auto deleted = sqs_transport->snapshot(sqs_transport->deleted);
  auto released = sqs_transport->snapshot(sqs_transport->released);
  std::sort(deleted.begin(), deleted.end());
  std::sort(released.begin(), released.end());
  EXPECT_EQ(deleted, (std::vector<std::string>{"rh-b1", "rh-b2"}));
  EXPECT_EQ(released, (std::vector<std::string>{"rh-a2", "rh-a3"}));  // a1 is left for its timeout
  auto status = [&](const char* entity) {
    return documents.list({entity, "issuer", std::nullopt, std::nullopt, std::nullopt}).value().items.at(0).status;
  };
  EXPECT_EQ(status("a2"), DocumentStatus::active);
  EXPECT_EQ(status("a3"), DocumentStatus::active);
  EXPECT_EQ(status("b2"), DocumentStatus::archived);
  EXPECT_EQ(registry.counter("docvault_consumer_messages_failed_total", "", {{"reason", "database"}}).value(), 1);
  EXPECT_EQ(registry.counter("docvault_consumer_messages_released_total", "").value(), 2);
  EXPECT_NE(registry.expose().find("docvault_consumer_events_processed_total 2"), std::string::npos);
}

}  // namespace
}  // namespace docvault::consumer
