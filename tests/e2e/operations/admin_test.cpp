// The admin API and its CLI twins, black-box.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "docvault_instance.h"
#include "emulator_fixture.h"
#include "sample_document.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::DocvaultInstance;
using docvault::testing::Process;
using docvault::testing::TestStorage;
using nlohmann::json;
using namespace std::chrono_literals;

class AdminTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    storage_.emplace(GetParam(), dir_.path() / "var");
    if (!storage_->available()) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
    }
    name_ = docvault::testing::unique_name("admin-test");
    queue_url_ = sqs_.create_queue(name_);
  }
  void TearDown() override {
    if (docvault_ && HasFailure()) std::cerr << "--- docvault output ---\n" << docvault_->output();
    docvault_.reset();
    try {
      sqs_.delete_queue(queue_url_);
    } catch (const std::exception&) {
    }
  }

  DocvaultInstance& start(std::map<std::string, std::string> env = {}) {
    docvault_.reset();
    env.try_emplace("DOCUMENT_VAULT_SQS_URL", queue_url_);
    env.try_emplace("DOCUMENT_CONSUMER_WAIT_TIME", "1");
    env.try_emplace("DOCVAULT_AUTH", "disabled");
    docvault_.emplace(*storage_, dir_.path() / ("docvault-" + std::to_string(++starts_) + ".log"), env);
    EXPECT_TRUE(docvault_->ready()) << docvault_->output();
    http_.emplace(docvault_->client());
    return *docvault_;
  }

  void send(const std::string& body) {
    std::vector<aws::OutgoingSqsMessage> one{{body, {}, std::nullopt, "", "", ""}};
    ASSERT_TRUE(sqs_.send_message_batch(queue_url_, one).all_succeeded());
  }

  std::string upload(const std::string& entity) {
    return docvault::testing::upload_document(*http_, entity, "issuer", "content of " + entity);
  }

  std::string status_of(const std::string& id) {
    return json::parse(http_->Get("/v1/documents/" + id)->body)["status"];
  }

  // `docvault admin ...` against the same database.
  std::pair<int, std::string> cli(const std::vector<std::string>& args) {
    std::vector<std::string> full{"admin"};
    full.insert(full.end(), args.begin(), args.end());
    auto env = storage_->environment();
    env["DOCUMENT_VAULT_SQS_URL"] = queue_url_;
    Process p(docvault::testing::docvault_binary(), full, env, dir_.path() / ("cli-" + std::to_string(++starts_)));
    auto code = p.wait(20s);
    return {code.value_or(-1), p.output()};
  }

  docvault::testing::TempDir dir_;
  std::optional<TestStorage> storage_;
  std::optional<DocvaultInstance> docvault_;
  std::optional<httplib::Client> http_;
  aws::SqsClient sqs_;
  std::string name_, queue_url_;
  int starts_ = 0;
};

std::string deleted(const std::string& event_id, const std::string& entity) {
  return docvault::testing::entity_event_json(event_id, entity);
}

TEST_P(AdminTest, ListAndReplayProcessedEvents) {
  auto& docvault = start();
  upload("issuer-r");
  send(deleted("evt-r", "issuer-r"));
  ASSERT_TRUE(docvault.wait_for_log("Successfully processed entity deletion event", 15s));

  auto listed = json::parse(http_->Get("/v1/admin/processed-events?entity_id=issuer-r")->body);
  ASSERT_EQ(listed["items"].size(), 1u);
  EXPECT_EQ(listed["items"][0]["event_id"], "evt-r");
  EXPECT_EQ(listed["items"][0]["payload_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(json::parse(http_->Get("/v1/admin/processed-events?entity_id=nobody")->body)["items"].size(), 0u);
  EXPECT_EQ(http_->Get("/v1/admin/processed-events?since=yesterday")->status, 400);

  // The API refuses documents after the deletion (409); one that got past it
  // anyway (a database restored from a backup): the replay archives it, once.
  httplib::MultipartFormDataItems items{{"file", "late", "late.txt", "text/plain"},
                                        {"entity_id", "issuer-r", "", ""},
                                        {"entity_type", "issuer", "", ""}};
  EXPECT_EQ(http_->Post("/v1/documents", items)->status, 409);
  const auto now = SystemClock().now();
  const Document late_document = testing::make_document(EntityRef{"issuer-r", EntityType::issuer}, now);
  const std::string late = late_document.id;
  store::write(storage_->store(), [&](store::Transaction& tx) { tx.insert_document(late_document); });
  auto replay = http_->Post("/v1/admin/processed-events/evt-r/replay", "", "application/json");
  ASSERT_EQ(replay->status, 200) << replay->body;
  EXPECT_EQ(json::parse(replay->body)["documents_archived"], 1);
  EXPECT_EQ(status_of(late), "archived");
  EXPECT_EQ(json::parse(http_->Post("/v1/admin/processed-events/evt-r/replay", "", "application/json")->body)
                ["documents_archived"],
            0);
  EXPECT_EQ(http_->Post("/v1/admin/processed-events/evt-none/replay", "", "application/json")->status, 404);

  auto [code, out] = cli({"processed-events", "--entity-id", "issuer-r"});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"event_id\": \"evt-r\""), std::string::npos) << out;
  EXPECT_EQ(cli({"replay", "evt-none"}).first, 1);
}

TEST_P(AdminTest, RepublishRequeuesAnEntitysOrADocumentsEvents) {
  start({{"ENABLE_DOCUMENT_CONSUMER", "false"}});
  auto a = upload("issuer-p");
  upload("issuer-p");
  auto pending = [&] {
    return store::read(storage_->store(), [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending;
  };
  // The relay is off here: mark everything published as if it had run.
  store::write(storage_->store(), [&](store::Transaction& tx) {
    auto now = SystemClock().now();
    auto rows = tx.claim_outbox(100, now, now);
    std::vector<std::int64_t> seqs;
    for (const auto& r : rows) seqs.push_back(r.seq);
    tx.mark_published(seqs, now);
  });
  ASSERT_EQ(pending(), 0u);

  auto res = http_->Post("/v1/admin/outbox/republish", json{{"document_id", a}}.dump(), "application/json");
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(json::parse(res->body)["requeued_events"], 2);  // its audit and document events
  EXPECT_EQ(pending(), 2u);
  res = http_->Post("/v1/admin/outbox/republish", json{{"entity_id", "issuer-p"}}.dump(), "application/json");
  EXPECT_EQ(json::parse(res->body)["requeued_events"], 4);
  EXPECT_EQ(http_->Post("/v1/admin/outbox/republish", "{}", "application/json")->status, 400);
  EXPECT_EQ(http_->Post("/v1/admin/outbox/republish", json{{"document_id", "0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b"}}.dump(),
                        "application/json")->status,
            404);
  EXPECT_EQ(cli({"republish", "--entity-id", "issuer-p", "--document-id", a}).first, 2);
  auto [code, out] = cli({"republish", "--document-id", a});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"requeued_events\": 2"), std::string::npos) << out;
}

TEST_P(AdminTest, RejectedMessagesCanBeListedAndRedriven) {
  auto& docvault = start();
  send("{\"not\": \"an event\"}");
  ASSERT_TRUE(docvault.wait_for_log("Rejected message", 15s));
  auto listed = json::parse(http_->Get("/v1/admin/rejected-messages")->body);
  ASSERT_EQ(listed["items"].size(), 1u);
  auto message = listed["items"][0];
  EXPECT_EQ(message["reason"], "invalid_message");
  EXPECT_EQ(message["body"], "{\"not\": \"an event\"}");
  EXPECT_EQ(message["body_base64"], "eyJub3QiOiAiYW4gZXZlbnQifQ==");

  // Redrive with the consumer off, so the message stays in the queue to be
  // seen; into a second queue, which no long poll of the first instance can
  // still be waiting on.
  auto second_queue = sqs_.create_queue(name_ + "-2");
  start({{"ENABLE_DOCUMENT_CONSUMER", "false"}, {"DOCUMENT_VAULT_SQS_URL", second_queue}});
  const std::string id = message["message_id"];
  auto res = http_->Post("/v1/admin/rejected-messages/" + id + "/redrive", "", "application/json");
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(json::parse(http_->Get("/v1/admin/rejected-messages")->body)["items"].size(), 0u);
  aws::ReceiveMessageRequest request;
  request.queue_url = second_queue;
  request.wait_time_seconds = 5;
  auto back = sqs_.receive_messages(request);
  sqs_.delete_queue(second_queue);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].body, "{\"not\": \"an event\"}");
  EXPECT_EQ(http_->Post("/v1/admin/rejected-messages/" + id + "/redrive", "", "application/json")->status, 404);
  EXPECT_EQ(cli({"redrive", "no-such-message"}).first, 1);
}

TEST_P(AdminTest, RedriveToAFifoQueueGivesTheMessageItsEntityAsGroup) {
  const std::string body = docvault::testing::entity_event_json("evt-fifo-redrive", "issuer-fifo", "issuer");
  store::write(storage_->store(), [&](store::Transaction& tx) {
    tx.record_rejected_message({"msg-fifo-1", body, "invalid_message", "test", 1, SystemClock().now()});
  });
  auto fifo = sqs_.create_queue(name_ + ".fifo", {{"FifoQueue", "true"}});
  start({{"ENABLE_DOCUMENT_CONSUMER", "false"}, {"DOCUMENT_VAULT_SQS_URL", fifo}});
  auto res = http_->Post("/v1/admin/rejected-messages/msg-fifo-1/redrive", "", "application/json");
  ASSERT_EQ(res->status, 202) << res->body;
  aws::ReceiveMessageRequest request;
  request.queue_url = fifo;
  request.wait_time_seconds = 5;
  auto back = sqs_.receive_messages(request);
  sqs_.delete_queue(fifo);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].body, body);
  EXPECT_EQ(back[0].attributes.at("MessageGroupId"), "issuer-fifo");
}

TEST_P(AdminTest, RetentionDeletesOldRecordsOnly) {
  auto now = SystemClock().now();
  auto old = now - std::chrono::hours(24 * 50);
  store::write(storage_->store(), [&](store::Transaction& tx) {
    tx.record_processed_event({"evt-old", "s", "entity.deleted", "e", "issuer", old, std::nullopt});
    tx.record_processed_event({"evt-new", "s", "entity.deleted", "e", "issuer", now, std::nullopt});
    tx.record_rejected_message({"msg-old", "x", "invalid_message", "d", 1, now - std::chrono::hours(24 * 100)});
    tx.record_rejected_message({"msg-new", "x", "invalid_message", "d", 1, now});
  });
  auto& docvault = start({{"ENABLE_DOCUMENT_CONSUMER", "false"}});
  ASSERT_TRUE(docvault.wait_for_log("retention purged old records", 15s)) << docvault.output();
  store::read(storage_->store(), [&](store::Transaction& tx) {
    EXPECT_FALSE(tx.find_processed_event("evt-old"));
    EXPECT_TRUE(tx.find_processed_event("evt-new"));
    EXPECT_FALSE(tx.find_rejected_message("msg-old"));
    EXPECT_TRUE(tx.find_rejected_message("msg-new"));
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, AdminTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

}  // namespace
}  // namespace docvault
