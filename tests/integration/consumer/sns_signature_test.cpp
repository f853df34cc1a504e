// The consumer with SNS signature verification on, in-process, over the local
// emulator's SQS: messages signed with a key made here (its self-signed
// certificate served by a local HTTP server, reached through the injectable
// fetcher in place of sns.<region>.amazonaws.com) are processed; a tampered
// one, one from another topic and a raw delivery are rejected as
// invalid_signature, recorded and deleted.
#include <random>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "aws/sns_signature.h"
#include "blob/filesystem_blob_store.h"
#include "consumer/consumer.h"
#include "test_crypto.h"
#include "test_env.h"

namespace docvault::consumer {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kTopic = "arn:aws:sns:us-east-1:123456789012:epr-entity-events";
const std::string kCertUrl = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem";

// Fetches the certificate's path from the local server instead of AWS (the
// URL itself was already checked by the verifier).
class LocalFetcher final : public aws::CertificateFetcher {
 public:
  explicit LocalFetcher(int port) : port_(port) {}
  std::string fetch(const std::string& url) override {
    ++fetches;
    auto path = url.substr(url.find('/', std::string("https://").size()));
    httplib::Client client("127.0.0.1", port_);
    auto res = client.Get(path.c_str());
    if (!res || res->status != 200) throw std::runtime_error("certificate fetch failed");
    return res->body;
  }
  std::atomic<int> fetches{0};

 private:
  int port_;
};

std::string event(const std::string& event_id, const std::string& entity) {
  return json{{"event_id", event_id}, {"source", "entity_permissions_core"}, {"action", "entity.deleted"},
              {"entity_id", entity}, {"entity_type", "issuer"}}
      .dump();
}

TEST(SnsSignatureConsumer, SignedMessagesAreProcessedAndOthersRejected) {
  DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
  auto key = docvault::testing::generate_rsa();
  const auto certificate = docvault::testing::self_signed_certificate_pem(key.get(), "sns.amazonaws.com");
  httplib::Server certificates;
  certificates.Get("/SimpleNotificationService-test.pem", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(certificate, "application/x-pem-file");
  });
  int port = certificates.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { certificates.listen_after_bind(); });

  docvault::testing::TempDir dir;
  auto store = store::open_store({"", dir.path() / "db.sqlite3", 2});
  store->migrate();
  blob::FilesystemBlobStore blobs(dir.path() / "blobs");
  SystemClock clock;
  service::DocumentService documents(*store, blobs, clock);
  for (const char* entity : {"signed-1", "signed-2", "tampered", "other-topic", "raw"}) {
    ASSERT_TRUE(documents.create({entity, "issuer", std::nullopt, "f", "text/plain"}, entity, Actor::anonymous()));
  }

  aws::SqsClient sqs;
  const auto queue = sqs.create_queue("sns-signature-" + std::to_string(std::random_device()()), {});
  auto send = [&](const std::string& body) {
    std::vector<aws::OutgoingSqsMessage> one{{body, {}, std::nullopt, "", "", ""}};
    ASSERT_TRUE(sqs.send_message_batch(queue, one).all_succeeded());
  };
  send(docvault::testing::sns_envelope(key.get(), kTopic, event("e-1", "signed-1"), kCertUrl, 1).dump());
  send(docvault::testing::sns_envelope(key.get(), kTopic, event("e-2", "signed-2"), kCertUrl, 2, "deleted").dump());
  auto tampered = docvault::testing::sns_envelope(key.get(), kTopic, event("e-3", "x"), kCertUrl, 2);
  tampered["Message"] = event("e-3", "tampered");
  send(tampered.dump());
  send(docvault::testing::sns_envelope(key.get(), "arn:aws:sns:us-east-1:123456789012:other",
                                       event("e-4", "other-topic"), kCertUrl, 2)
           .dump());
  send(event("e-5", "raw"));

  auto fetcher = std::make_shared<LocalFetcher>(port);
  ConsumerOptions options;
  options.queue_url = queue;
  options.wait_time_seconds = 1;
  options.sns_verifier = std::make_shared<const aws::SnsSignatureVerifier>(
      fetcher, aws::SnsSignatureOptions{{kTopic}, 16});
  metrics::Registry registry;
  DocumentVaultConsumer consumer(sqs, documents, clock, options, registry);
  consumer.start();
  auto rejected = [&] {
    return store::read(*store, [](store::Transaction& tx) { return tx.rejected_messages(100); });
  };
  auto status = [&](const char* entity) {
    return documents.list({entity, "issuer", std::nullopt, std::nullopt, std::nullopt}).value().items.at(0).status;
  };
  EXPECT_TRUE(docvault::testing::wait_until([&] {
    return rejected().size() == 3 && status("signed-1") == DocumentStatus::archived &&
           status("signed-2") == DocumentStatus::archived;
  }, 20s));
  consumer.stop();
  certificates.stop();
  serving.join();
  sqs.delete_queue(queue);

  for (const auto& r : rejected()) {
    EXPECT_EQ(r.reason, "invalid_signature") << r.detail;
  }
  std::set<std::string> details;
  for (const auto& r : rejected()) details.insert(r.detail);
  EXPECT_EQ(details, (std::set<std::string>{"the signature does not verify", "TopicArn is not an allowed topic",
                                            "not a signed SNS envelope (raw message delivery cannot be verified)"}));
  for (const char* entity : {"tampered", "other-topic", "raw"}) EXPECT_EQ(status(entity), DocumentStatus::active);
  // Cached: at most one fetch per worker racing for the first message.
  EXPECT_LE(fetcher->fetches, options.concurrency);
}

}  // namespace
}  // namespace docvault::consumer
