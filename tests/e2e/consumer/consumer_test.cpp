// Black-box tests of the entity-events consumer: the real docvault binary,
// the real local AWS emulator (events published through an SNS topic
// subscribed by the queue docvault consumes), and the real databases.
#include <signal.h>
#include <sqlite3.h>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "docvault_instance.h"
#include "domain/events.h"
#include "emulator_fixture.h"
#include "sample_document.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::DocvaultInstance;
using docvault::testing::TestStorage;
using nlohmann::json;
using namespace std::chrono_literals;

// An entity.deleted event as the entity-permissions service publishes it.
std::string entity_deleted(const std::string& event_id, const std::string& entity_id,
                           const std::string& entity_type = "issuer") {
  return docvault::testing::entity_event_json(event_id, entity_id, entity_type);
}

class ConsumerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    storage_.emplace(GetParam(), dir_.path() / "var");
    if (!storage_->available()) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
    }
    name_ = docvault::testing::unique_name("consumer-test");
    auto subscribed = docvault::testing::subscribed_queue(sqs_, sns_, name_, {{"VisibilityTimeout", "30"}});
    queue_url_ = subscribed.queue_url;
    topic_arn_ = subscribed.topic_arn;
  }

  void TearDown() override {
    for (auto& instance : instances_) {
      if (HasFailure()) std::cerr << "--- docvault output ---\n" << instance->output();
    }
    instances_.clear();
    try {
      if (!queue_url_.empty()) sqs_.delete_queue(queue_url_);
      if (!topic_arn_.empty()) sns_.delete_topic(topic_arn_);
    } catch (const std::exception&) {
    }
  }

  DocvaultInstance& start(std::map<std::string, std::string> env = {}, const std::string& subcommand = "serve") {
    env.try_emplace("DOCUMENT_VAULT_SQS_URL", queue_url_);
    env.try_emplace("DOCUMENT_CONSUMER_WAIT_TIME", "1");
    auto log = dir_.path() / ("docvault-" + std::to_string(instances_.size()) + ".log");
    instances_.push_back(std::make_unique<DocvaultInstance>(*storage_, log, env, subcommand));
    auto& instance = *instances_.back();
    EXPECT_TRUE(instance.ready()) << instance.output();
    EXPECT_TRUE(instance.wait_for_log("Document Vault consumer started as background task")) << instance.output();
    return instance;
  }

  void publish(const std::string& message) { sns_.publish(topic_arn_, aws::SnsMessage{message, "", {}, "", ""}); }

  // Sends straight to the queue, as a raw-delivery subscription would.
  void send_raw(const std::string& body) {
    std::vector<aws::OutgoingSqsMessage> one{{body, {}, std::nullopt, "", "", ""}};
    auto result = sqs_.send_message_batch(queue_url_, one);
    ASSERT_TRUE(result.all_succeeded()) << result.failed.front().code << " " << result.failed.front().message;
  }

  std::vector<std::string> seed(const std::string& entity_id, int count, EntityType type = EntityType::issuer) {
    std::vector<std::string> ids;
    auto now = SystemClock().now();
    store::write(storage_->store(), [&](store::Transaction& tx) {
      for (int i = 0; i < count; ++i) {
        const Document d = testing::make_document(EntityRef{entity_id, type}, now);
        tx.insert_document(d);
        ids.push_back(d.id);
      }
    });
    return ids;
  }

  std::vector<Document> documents(const std::string& entity_id, DocumentStatus status,
                                  EntityType type = EntityType::issuer) {
    std::vector<Document> all;
    std::optional<store::Cursor> after;
    while (true) {
      auto page = store::read(storage_->store(), [&](store::Transaction& tx) {
        return tx.list_documents({{entity_id, type}, status, 1000, after});
      });
      if (page.empty()) return all;
      after = store::Cursor{page.back().created_at, page.back().id};
      all.insert(all.end(), page.begin(), page.end());
    }
  }

  std::vector<OutboxMessage> outbox(const std::string& entity_id) {
    return store::read(storage_->store(), [&](store::Transaction& tx) { return tx.outbox_messages(entity_id); });
  }

  std::vector<store::RejectedMessage> rejected() {
    return store::read(storage_->store(), [&](store::Transaction& tx) { return tx.rejected_messages(100); });
  }

  bool queue_empty() {
    const std::vector<std::string> names{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"};
    auto a = sqs_.get_queue_attributes(queue_url_, names);
    return a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0";
  }

  // Runs SQL on the test database directly (fault injection).
  void exec_sql(const std::string& sqlite_sql, const std::string& postgres_sql) {
    if (storage_->backend() == Backend::postgresql) {
      pqxx::connection c(storage_->database_url());
      pqxx::work tx(c);
      tx.exec(postgres_sql);
      tx.commit();
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((storage_->data_dir() / "docvault.sqlite3").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sqlite_sql.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  docvault::testing::TempDir dir_;
  std::optional<TestStorage> storage_;
  aws::SqsClient sqs_;
  aws::SnsClient sns_;
  std::string name_;
  std::string queue_url_;
  std::string topic_arn_;
  std::vector<std::unique_ptr<DocvaultInstance>> instances_;
};

TEST_P(ConsumerTest, EntityDeletedArchivesEmitsAndAcknowledges) {
  auto ids = seed("f47ac10b-58cc-4372-a567-0e02b2c3d479", 3);
  seed("someone-else", 1);
  auto& docvault = start();
  const std::string event_id = "a1b2c3d4-5678-90ab-cdef-1234567890ab";
  publish(entity_deleted(event_id, "f47ac10b-58cc-4372-a567-0e02b2c3d479"));

  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("f47ac10b-58cc-4372-a567-0e02b2c3d479", DocumentStatus::archived).size() == 3; }, 15s))
      << docvault.output();
  EXPECT_EQ(documents("someone-else", DocumentStatus::active).size(), 1u);
  for (const auto& d : documents("f47ac10b-58cc-4372-a567-0e02b2c3d479", DocumentStatus::archived)) {
    EXPECT_EQ(d.archive_reason, "entity_deleted");
  }

  // One audit event (SNS) and one document event (SQS) per document, in the spec's shapes.
  auto events = outbox("f47ac10b-58cc-4372-a567-0e02b2c3d479");
  ASSERT_EQ(events.size(), 6u);
  std::set<std::string> seen_documents;
  for (const auto& e : events) {
    auto payload = json::parse(e.payload);
    EXPECT_MATCHES_SCHEMA(e.destination == Destination::sns ? docvault::testing::EventSchema::audit_event
                                                            : docvault::testing::EventSchema::document_event,
                          e.payload);
    if (e.destination == Destination::sns) {
      const std::string document_id = payload["entity_id"];
      seen_documents.insert(document_id);
      EXPECT_EQ(e.event_id, outgoing_event_id(event_id, document_id, kActionDocumentArchived, Destination::sns));
      EXPECT_EQ(payload["event_id"], e.event_id);
      EXPECT_EQ(payload["source"], "document-vault-service");
      EXPECT_EQ(payload["action"], "document.archived");
      EXPECT_TRUE(payload["actor_id"].is_null());
      EXPECT_EQ(payload["actor_type"], "system");
      EXPECT_EQ(payload["entity_type"], "document");
      EXPECT_EQ(payload["details"]["reason"], "entity_deleted");
      EXPECT_EQ(payload["details"]["source_entity_id"], "f47ac10b-58cc-4372-a567-0e02b2c3d479");
      EXPECT_EQ(payload["details"]["source_entity_type"], "issuer");
      EXPECT_EQ(payload["details"]["archived_at"], payload["occurred_at"]);
    } else {
      EXPECT_EQ(payload["event_type"], "document.archived");
      EXPECT_EQ(payload["payload"]["entity_id"], "f47ac10b-58cc-4372-a567-0e02b2c3d479");
      EXPECT_EQ(payload["payload"]["entity_type"], "issuer");
      EXPECT_EQ(payload["payload"]["reason"], "entity_deleted");
      EXPECT_EQ(e.event_id, outgoing_event_id(event_id, payload["payload"]["document_id"].get<std::string>(),
                                              kActionDocumentArchived, Destination::sqs));
    }
  }
  EXPECT_EQ(seen_documents, std::set<std::string>(ids.begin(), ids.end()));

  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_TRUE(docvault.wait_for_log("Successfully processed entity deletion event"));
  EXPECT_NE(docvault.output().find(R"("component":"DocumentVaultConsumer")"), std::string::npos);
}

TEST_P(ConsumerTest, AnUploadAfterTheDeletionIsRefusedWith409AndWritesNothing) {
  seed("issuer-gone", 1);
  auto& docvault = start();
  publish(entity_deleted("evt-gone", "issuer-gone"));
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("issuer-gone", DocumentStatus::archived).size() == 1; }, 15s)) << docvault.output();
  const auto events_before = outbox("issuer-gone").size();

  auto http = docvault.client();
  httplib::MultipartFormDataItems items{{"file", "too late", "late.txt", "text/plain"},
                                        {"entity_id", "issuer-gone", "", ""},
                                        {"entity_type", "issuer", "", ""}};
  auto res = http.Post("/v1/documents", items);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409) << res->body;
  auto error = json::parse(res->body)["error"];
  EXPECT_EQ(error["code"], "entity_deleted");
  EXPECT_EQ(error["field"], "entity_id");
  EXPECT_TRUE(documents("issuer-gone", DocumentStatus::active).empty());
  EXPECT_EQ(documents("issuer-gone", DocumentStatus::archived).size(), 1u);
  EXPECT_EQ(outbox("issuer-gone").size(), events_before);

  // A suspension after the deletion changes nothing and is not rejected.
  auto suspend = json::parse(entity_deleted("evt-gone-2", "issuer-gone"));
  suspend["action"] = "entity.suspended";
  publish(suspend.dump());
  ASSERT_TRUE(docvault.wait_for_log("Entity event after the entity's deletion; nothing changed", 15s))
      << docvault.output();
  EXPECT_TRUE(rejected().empty());
  EXPECT_EQ(outbox("issuer-gone").size(), events_before);
}

TEST_P(ConsumerTest, TheSameEventTwiceIsHandledOnce) {
  seed("issuer-1", 2);
  auto& docvault = start();
  publish(entity_deleted("evt-twice", "issuer-1"));
  publish(entity_deleted("evt-twice", "issuer-1"));
  ASSERT_TRUE(docvault.wait_for_log("Duplicate event detected", 15s)) << docvault.output();
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_EQ(documents("issuer-1", DocumentStatus::archived).size(), 2u);
  EXPECT_EQ(outbox("issuer-1").size(), 4u);
}

TEST_P(ConsumerTest, PoisonMessagesAreRecordedAndTheConsumerGoesOn) {
  seed("issuer-after-poison", 1);
  auto& docvault = start({{"DOCUMENT_CONSUMER_UNKNOWN_ACTIONS", "reject"}});
  auto valid = json::parse(entity_deleted("evt-p", "issuer-x"));
  auto with = [&](const char* key, json value) {
    auto copy = valid;
    if (value.is_discarded()) {
      copy.erase(key);
    } else {
      copy[key] = std::move(value);
    }
    return copy.dump();
  };
  publish("this is not json");
  publish(with("entity_id", 12345));                 // wrong type
  publish(with("event_id", json::value_t::discarded));  // missing field
  publish(with("action", "entity.renamed"));         // unknown action
  // A body at SQS's 256 KiB limit, with a field far over its column width.
  send_raw(with("entity_id", std::string(256 * 1024 - 200, 'x')));
  // Invalid UTF-8 cannot cross SQS's JSON protocol; what can is an event
  // whose JSON escapes name a code point that is not UTF-8 (a lone surrogate).
  publish(R"({"event_id":"\udc00","source":"s","action":"entity.deleted","entity_id":"e","entity_type":"issuer"})");
  publish(entity_deleted("evt-after-poison", "issuer-after-poison"));

  ASSERT_TRUE(docvault::testing::wait_until([&] { return rejected().size() == 6; }, 20s))
      << rejected().size() << "\n" << docvault.output();
  std::multiset<std::string> reasons;
  for (const auto& r : rejected()) {
    reasons.insert(r.reason);
    EXPECT_FALSE(r.body.empty());
    EXPECT_FALSE(r.detail.empty());
    EXPECT_GE(r.receive_count, 1);
  }
  EXPECT_EQ(reasons.count("invalid_message"), 5u);
  EXPECT_EQ(reasons.count("unknown_action"), 1u);
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("issuer-after-poison", DocumentStatus::archived).size() == 1; }, 15s));
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_TRUE(docvault.wait_for_log("Rejected message"));
  EXPECT_EQ(docvault.process().running(), true);
}

TEST_P(ConsumerTest, RejectedMessagesAlsoGoToTheDeadLetterQueueWhenSet) {
  auto dlq = sqs_.create_queue(name_ + "-dlq");
  auto& docvault = start({{"DOCUMENT_CONSUMER_DLQ_URL", dlq}});
  publish("definitely not json");
  ASSERT_TRUE(docvault::testing::wait_until([&] { return rejected().size() == 1; }, 15s)) << docvault.output();
  aws::ReceiveMessageRequest request;
  request.queue_url = dlq;
  request.wait_time_seconds = 5;
  auto dead = sqs_.receive_messages(request);
  sqs_.delete_queue(dlq);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, rejected()[0].body);
  EXPECT_EQ(dead[0].message_attributes.at("docvault_rejection_reason").string_value, "invalid_message");
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_TRUE(docvault.wait_for_log(R"("dead_lettered":true)"));
}

TEST_P(ConsumerTest, ActionsNotEnabledAreAcknowledgedAndCountedNotRejected) {
  seed("issuer-suspended", 1);
  seed("issuer-deleted", 1);
  auto& docvault = start({{"DOCUMENT_CONSUMER_ACTIONS", "entity.deleted"}});
  auto event = [](const char* id, const char* entity, const char* action) {
    auto e = json::parse(entity_deleted(id, entity));
    e["action"] = action;
    return e.dump();
  };
  publish(event("evt-s", "issuer-suspended", "entity.suspended"));  // known to docvault, not enabled here
  publish(event("evt-r", "issuer-suspended", "entity.renamed"));    // new on the topic
  publish(event("evt-r2", "issuer-suspended", "entity.renamed"));
  publish(entity_deleted("evt-d", "issuer-deleted"));

  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("issuer-deleted", DocumentStatus::archived).size() == 1; }, 15s)) << docvault.output();
  auto http = docvault.client();
  std::string metrics;
  EXPECT_TRUE(docvault::testing::wait_until([&] {
    auto res = http.Get("/metrics");
    metrics = res ? res->body : "";
    return metrics.find(R"(docvault_consumer_messages_ignored_total{action="entity.renamed"} 2)") != std::string::npos &&
           metrics.find(R"(docvault_consumer_messages_ignored_total{action="entity.suspended"} 1)") != std::string::npos;
  }, 10s)) << metrics;
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_TRUE(rejected().empty());
  EXPECT_EQ(documents("issuer-suspended", DocumentStatus::active).size(), 1u);
  EXPECT_EQ(docvault.output().find("Rejected message"), std::string::npos);
}

TEST_P(ConsumerTest, UnsupportedEntityTypeIsLoggedAndMarkedProcessed) {
  auto& docvault = start();
  publish(entity_deleted("evt-fund", "fund-1", "fund"));
  ASSERT_TRUE(docvault.wait_for_log("Unsupported entity type; event marked processed", 15s)) << docvault.output();
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_TRUE(rejected().empty());
  publish(entity_deleted("evt-fund", "fund-1", "fund"));
  EXPECT_TRUE(docvault.wait_for_log("Duplicate event detected", 15s));
}

TEST_P(ConsumerTest, ADatabaseFailureRollsBackAndTheRedeliverySucceeds) {
  seed("issuer-1", 3);
  exec_sql(
      "CREATE TABLE test_fault (id INTEGER);"
      "INSERT INTO test_fault VALUES (1);"
      "CREATE TRIGGER test_fault_outbox BEFORE INSERT ON outbox_events"
      " WHEN EXISTS (SELECT 1 FROM test_fault) BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
      "CREATE TABLE test_fault (id INTEGER);"
      "INSERT INTO test_fault VALUES (1);"
      "CREATE FUNCTION test_fault_fn() RETURNS trigger AS $$ BEGIN"
      " IF EXISTS (SELECT 1 FROM test_fault) THEN RAISE EXCEPTION 'injected failure'; END IF;"
      " RETURN NEW; END $$ LANGUAGE plpgsql;"
      "CREATE TRIGGER test_fault_outbox BEFORE INSERT ON outbox_events"
      " FOR EACH STATEMENT EXECUTE FUNCTION test_fault_fn();");
  auto& docvault = start({{"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "2"}});
  publish(entity_deleted("evt-fail", "issuer-1"));
  ASSERT_TRUE(docvault.wait_for_log("Failed to process event", 15s)) << docvault.output();
  // Rolled back: nothing archived, nothing in the outbox, the event not recorded.
  EXPECT_EQ(documents("issuer-1", DocumentStatus::active).size(), 3u);
  EXPECT_TRUE(outbox("issuer-1").empty());

  exec_sql("DELETE FROM test_fault;", "DELETE FROM test_fault;");
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("issuer-1", DocumentStatus::archived).size() == 3; }, 20s))
      << docvault.output();
  EXPECT_EQ(outbox("issuer-1").size(), 6u);
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  EXPECT_EQ(docvault.output().find("Duplicate event detected"), std::string::npos);
}

TEST_P(ConsumerTest, EntitiesWithNoDocumentsAndWithTenThousand) {
  seed("big-issuer", 10000);
  auto& docvault = start();
  publish(entity_deleted("evt-empty", "nobody-home"));
  publish(entity_deleted("evt-big", "big-issuer"));
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("big-issuer", DocumentStatus::active).empty(); }, 60s))
      << docvault.output();
  EXPECT_EQ(documents("big-issuer", DocumentStatus::archived).size(), 10000u);
  EXPECT_EQ(outbox("big-issuer").size(), 20000u);
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 15s));
  EXPECT_TRUE(docvault.wait_for_log(R"("documents_archived":0)"));
  EXPECT_TRUE(docvault.wait_for_log(R"("documents_archived":10000)"));
}

TEST_P(ConsumerTest, SigtermDuringALongPollExitsAtOnce) {
  auto& docvault = start({{"DOCUMENT_CONSUMER_WAIT_TIME", "20"}});
  // The poller sampled the queue's depth, the step right before its first
  // long poll; an empty queue holds that poll for 20 s.
  auto http = docvault.client();
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    auto res = http.Get("/metrics");
    return res && res->body.find(R"(docvault_consumer_queue_messages{state="visible"})") != std::string::npos;
  })) << docvault.output();
  auto before = std::chrono::steady_clock::now();
  docvault.process().signal(SIGTERM);
  auto code = docvault.process().wait(5s);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - before);
  std::cout << "exit after SIGTERM during a long poll: " << took.count() << " ms\n";
  EXPECT_EQ(code, 0);
  EXPECT_LT(took, 1000ms);
  EXPECT_TRUE(docvault.wait_for_log("Document Vault consumer shutdown complete"));
}

TEST_P(ConsumerTest, SuspendHidesAnEntitysDocumentsAndReinstateBringsThemBack) {
  auto& docvault = start();
  auto http = docvault.client();
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    ids.push_back(docvault::testing::upload_document(http, "susp-1", "investor", "doc " + std::to_string(i)));
    ASSERT_FALSE(ids.back().empty());
  }
  auto listed = [&] {
    return json::parse(http.Get("/v1/documents?entity_id=susp-1&entity_type=investor")->body)["items"].size();
  };
  auto event = [](const std::string& id, const std::string& action) {
    return docvault::testing::entity_event_json(id, "susp-1", "investor", action);
  };

  publish(event("evt-susp", "entity.suspended"));
  ASSERT_TRUE(docvault::testing::wait_until([&] { return listed() == 0; }, 15s)) << docvault.output();
  auto meta = http.Get("/v1/documents/" + ids[0]);
  ASSERT_EQ(meta->status, 200);
  EXPECT_TRUE(json::parse(meta->body)["suspended_at"].is_string());
  auto content = http.Get("/v1/documents/" + ids[0] + "/content");
  EXPECT_EQ(content->status, 423);
  EXPECT_EQ(json::parse(content->body)["error"]["code"], "suspended");

  publish(event("evt-reinstate", "entity.reinstated"));
  ASSERT_TRUE(docvault::testing::wait_until([&] { return listed() == 2; }, 15s)) << docvault.output();
  EXPECT_EQ(http.Get("/v1/documents/" + ids[0] + "/content")->body, "doc 0");
  EXPECT_TRUE(json::parse(http.Get("/v1/documents/" + ids[0])->body)["suspended_at"].is_null());

  // created, suspended, reinstated: an audit and a document event each, per document.
  auto events = outbox("susp-1");
  ASSERT_EQ(events.size(), 12u);
  std::map<std::string, int> actions;
  for (const auto& e : events) {
    auto payload = json::parse(e.payload);
    if (e.destination == Destination::sns) {
      actions[payload["action"]]++;
      if (payload["action"] == "document.suspended") {
        EXPECT_EQ(payload["details"]["reason"], "entity_suspended");
        EXPECT_TRUE(payload["details"]["suspended_at"].is_string());
        EXPECT_EQ(payload["details"]["source_entity_type"], "investor");
      }
    } else if (payload["event_type"] == "document.reinstated") {
      EXPECT_EQ(payload["payload"]["reason"], "entity_reinstated");
    }
  }
  EXPECT_EQ(actions["document.created"], 2);
  EXPECT_EQ(actions["document.suspended"], 2);
  EXPECT_EQ(actions["document.reinstated"], 2);
}

TEST_P(ConsumerTest, ActionsNotEnabledAreRejectedAsUnknownWhenConfiguredSo) {
  auto& docvault =
      start({{"DOCUMENT_CONSUMER_ACTIONS", "entity.deleted"}, {"DOCUMENT_CONSUMER_UNKNOWN_ACTIONS", "reject"}});
  publish(json{{"event_id", "evt-s"}, {"source", "s"}, {"action", "entity.suspended"}, {"entity_id", "x"},
               {"entity_type", "issuer"}}
              .dump());
  ASSERT_TRUE(docvault::testing::wait_until([&] { return rejected().size() == 1; }, 15s)) << docvault.output();
  EXPECT_EQ(rejected()[0].reason, "unknown_action");
}

TEST_P(ConsumerTest, AnEventIdReusedForAnotherEventIsRejected) {
  seed("issuer-a", 1);
  seed("issuer-b", 1);
  auto& docvault = start();
  publish(entity_deleted("evt-reused", "issuer-a"));
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("issuer-a", DocumentStatus::archived).size() == 1; }, 15s));
  publish(entity_deleted("evt-reused", "issuer-b"));  // same id, another event
  ASSERT_TRUE(docvault::testing::wait_until([&] { return rejected().size() == 1; }, 15s)) << docvault.output();
  EXPECT_EQ(rejected()[0].reason, "event_id_reused");
  EXPECT_EQ(documents("issuer-b", DocumentStatus::active).size(), 1u);
  EXPECT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 10s));
  // A plain redelivery of the first is still just a duplicate.
  publish(entity_deleted("evt-reused", "issuer-a"));
  EXPECT_TRUE(docvault.wait_for_log("Duplicate event detected", 15s));
  EXPECT_EQ(rejected().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsumerTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

// PostgreSQL only: several instances share one database.
class ConsumerPostgresTest : public ConsumerTest {};

TEST_P(ConsumerPostgresTest, TwoInstancesGivenTheSameEventArchiveOnce) {
  seed("shared-issuer", 5);
  auto& a = start({}, "consume");
  auto& b = start({}, "consume");
  for (int i = 0; i < 4; ++i) publish(entity_deleted("evt-shared", "shared-issuer"));
  ASSERT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 20s)) << a.output() << b.output();
  EXPECT_EQ(documents("shared-issuer", DocumentStatus::archived).size(), 5u);
  EXPECT_EQ(outbox("shared-issuer").size(), 10u);
  auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
  };
  auto logs = a.output() + b.output();
  EXPECT_EQ(count(logs, "Successfully processed entity deletion event"), 1u);
  EXPECT_EQ(count(logs, "Duplicate event detected"), 3u);
}

TEST_P(ConsumerPostgresTest, SigtermDuringProcessingFinishesTheWorkFirst) {
  seed("slow-issuer", 3);
  // Make the transaction take a while.
  exec_sql("", "CREATE FUNCTION test_slow_fn() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$"
               " LANGUAGE plpgsql;"
               "CREATE TRIGGER test_slow_outbox BEFORE INSERT ON outbox_events"
               " FOR EACH STATEMENT EXECUTE FUNCTION test_slow_fn();");
  auto& docvault = start();
  publish(entity_deleted("evt-slow", "slow-issuer"));
  // Wait until the work has begun: the receive count reaches the processing threads.
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    pqxx::connection c(storage_->database_url());
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                    " AND pid <> pg_backend_pid()")[0]
               .as<int>() > 0;
  }, 15s)) << docvault.output();
  docvault.process().signal(SIGTERM);
  EXPECT_EQ(docvault.process().wait(10s), 0);
  EXPECT_EQ(documents("slow-issuer", DocumentStatus::archived).size(), 3u);
  EXPECT_EQ(outbox("slow-issuer").size(), 6u);
  EXPECT_TRUE(queue_empty());
  EXPECT_NE(docvault.output().find("Successfully processed entity deletion event"), std::string::npos);
}

TEST_P(ConsumerPostgresTest, HeartbeatsKeepALongMessageFromASecondConsumer) {
  seed("slow-issuer", 2);
  // Each transaction takes 4 s; the visibility timeout is 2 s.
  exec_sql("", "CREATE FUNCTION test_slow_fn() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(4); RETURN NEW; END $$"
               " LANGUAGE plpgsql;"
               "CREATE TRIGGER test_slow_outbox BEFORE INSERT ON outbox_events"
               " FOR EACH STATEMENT EXECUTE FUNCTION test_slow_fn();");
  auto& a = start({{"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "2"}}, "consume");
  auto& b = start({{"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "2"}}, "consume");
  publish(entity_deleted("evt-long", "slow-issuer"));
  ASSERT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 30s)) << a.output() << b.output();
  auto logs = a.output() + b.output();
  EXPECT_NE(logs.find("Successfully processed entity deletion event"), std::string::npos) << logs;
  // Without heartbeats the message would reappear after 2 s and the other
  // consumer would pick it up and find a duplicate (or wait on the row lock).
  EXPECT_EQ(logs.find("Duplicate event detected"), std::string::npos) << logs;
  EXPECT_EQ(outbox("slow-issuer").size(), 4u);
}

TEST_P(ConsumerPostgresTest, SigtermReleasesPrefetchedMessagesAtOnce) {
  constexpr int kMessages = 20;
  for (int i = 0; i < kMessages; ++i) seed("prefetch-" + std::to_string(i), 1);
  exec_sql("", "CREATE FUNCTION test_slow_fn() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$"
               " LANGUAGE plpgsql;"
               "CREATE TRIGGER test_slow_outbox BEFORE INSERT ON outbox_events"
               " FOR EACH STATEMENT EXECUTE FUNCTION test_slow_fn();");
  for (int i = 0; i < kMessages; ++i) {
    send_raw(entity_deleted("evt-prefetch-" + std::to_string(i), "prefetch-" + std::to_string(i)));
  }
  // One worker, ten messages per receive: at most ten in progress (one
  // transaction), the next receive's waiting in hand.
  auto& docvault = start({{"DOCUMENT_CONSUMER_CONCURRENCY", "1"}, {"DOCUMENT_CONSUMER_MAX_MESSAGES", "10"}});
  const std::vector<std::string> visible{"ApproximateNumberOfMessages"};
  auto visible_now = [&] {
    return std::stoi(sqs_.get_queue_attributes(queue_url_, visible).at("ApproximateNumberOfMessages"));
  };
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    pqxx::connection c(storage_->database_url());
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")[0].as<int>() > 0 &&
           kMessages - visible_now() >= 12;
  }, 15s)) << "the consumer did not prefetch: " << kMessages - visible_now() << " in hand\n" << docvault.output();

  const auto sent_at = std::chrono::steady_clock::now();
  docvault.process().signal(SIGTERM);
  // The unstarted ones are visible again at once, long before their 30 s
  // visibility timeout (the bound leaves room for a loaded machine): all but
  // the ten at most in progress.
  EXPECT_TRUE(docvault::testing::wait_until([&] { return visible_now() >= kMessages - 10; }, 3s));
  std::cout << "released batch visible after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent_at).count()
            << " ms\n";
  EXPECT_EQ(docvault.process().wait(10s), 0);

  // A new instance finishes the rest: each event processed once, none lost.
  exec_sql("", "DROP TRIGGER test_slow_outbox ON outbox_events;");
  auto& next = start();
  ASSERT_TRUE(docvault::testing::wait_until([&] { return queue_empty(); }, 20s)) << next.output();
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(documents("prefetch-" + std::to_string(i), DocumentStatus::archived).size(), 1u) << i;
  }
  auto logs = docvault.output() + next.output();
  EXPECT_EQ(logs.find("Duplicate event detected"), std::string::npos) << logs;
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsumerPostgresTest, ::testing::Values(Backend::postgresql),
                         docvault::testing::backend_name);

// FIFO queues: one MessageGroupId at a time, in order; a failure stops its group.
class ConsumerFifoTest : public ConsumerTest {
 protected:
  void SetUp() override {
    ConsumerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    fifo_url_ = sqs_.create_queue(name_ + ".fifo", {{"FifoQueue", "true"}, {"VisibilityTimeout", "2"}});
  }
  void TearDown() override {
    try {
      if (!fifo_url_.empty()) sqs_.delete_queue(fifo_url_);
    } catch (const std::exception&) {
    }
    ConsumerTest::TearDown();
  }
  void send_in_group(const std::string& group, const std::string& body, const std::string& dedup) {
    std::vector<aws::OutgoingSqsMessage> one{{body, {}, std::nullopt, group, dedup, ""}};
    auto result = sqs_.send_message_batch(fifo_url_, one);
    ASSERT_TRUE(result.all_succeeded()) << result.failed.front().code << " " << result.failed.front().message;
  }
  std::string fifo_url_;
};

TEST_P(ConsumerFifoTest, AFailureStopsItsGroupOnlyAndOrderHoldsOnRedelivery) {
  for (const char* e : {"a1", "a2", "a3", "b1", "b2"}) seed(e, 1);
  // a1's transaction fails while the fault is in place.
  exec_sql(
      "CREATE TABLE test_fault (id INTEGER);"
      "INSERT INTO test_fault VALUES (1);"
      "CREATE TRIGGER test_fault_outbox BEFORE INSERT ON outbox_events"
      " WHEN NEW.ordering_key = 'a1' AND EXISTS (SELECT 1 FROM test_fault)"
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
      "CREATE TABLE test_fault (id INTEGER);"
      "INSERT INTO test_fault VALUES (1);"
      "CREATE FUNCTION test_fault_fn() RETURNS trigger AS $$ BEGIN"
      " IF NEW.ordering_key = 'a1' AND EXISTS (SELECT 1 FROM test_fault) THEN RAISE EXCEPTION 'injected failure'; END IF;"
      " RETURN NEW; END $$ LANGUAGE plpgsql;"
      "CREATE TRIGGER test_fault_outbox BEFORE INSERT ON outbox_events"
      " FOR EACH ROW EXECUTE FUNCTION test_fault_fn();");
  for (const char* e : {"a1", "a2", "a3"}) send_in_group("A", entity_deleted(std::string("evt-") + e, e), e);
  for (const char* e : {"b1", "b2"}) send_in_group("B", entity_deleted(std::string("evt-") + e, e), e);
  auto& docvault = start({{"DOCUMENT_VAULT_SQS_URL", fifo_url_}, {"DOCUMENT_CONSUMER_MAX_MESSAGES", "10"}});

  // Group B goes through; group A stops at a1, and a2, a3 are not processed.
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("b2", DocumentStatus::archived).size() == 1; }, 15s)) << docvault.output();
  ASSERT_TRUE(docvault.wait_for_log("Failed to process event", 15s));
  EXPECT_EQ(documents("b1", DocumentStatus::archived).size(), 1u);
  for (const char* e : {"a1", "a2", "a3"}) EXPECT_EQ(documents(e, DocumentStatus::active).size(), 1u) << e;

  exec_sql("DELETE FROM test_fault;", "DELETE FROM test_fault;");
  ASSERT_TRUE(docvault::testing::wait_until(
      [&] { return documents("a3", DocumentStatus::archived).size() == 1; }, 30s)) << docvault.output();
  // In order: a1's archive came before a2's, a2's before a3's.
  auto archived_at = [&](const char* e) { return *documents(e, DocumentStatus::archived).at(0).archived_at; };
  EXPECT_LE(archived_at("a1"), archived_at("a2"));
  EXPECT_LE(archived_at("a2"), archived_at("a3"));
  auto log = docvault.output();
  EXPECT_LT(log.find(R"("event_id":"evt-a1","entity_id":"a1")"), log.find(R"("event_id":"evt-a2","entity_id":"a2")"));
  EXPECT_LT(log.find(R"("event_id":"evt-a2","entity_id":"a2")"), log.find(R"("event_id":"evt-a3","entity_id":"a3")"));
}

TEST_P(ConsumerFifoTest, RejectedMessagesReachAFifoDeadLetterQueueInTheirGroup) {
  auto dlq = sqs_.create_queue(name_ + "-dlq.fifo", {{"FifoQueue", "true"}});
  send_in_group("G-1", "not an event", "poison-1");
  auto& docvault = start({{"DOCUMENT_VAULT_SQS_URL", fifo_url_}, {"DOCUMENT_CONSUMER_DLQ_URL", dlq}});
  ASSERT_TRUE(docvault.wait_for_log(R"("dead_lettered":true)", 15s)) << docvault.output();
  aws::ReceiveMessageRequest request;
  request.queue_url = dlq;
  request.wait_time_seconds = 5;
  auto dead = sqs_.receive_messages(request);
  sqs_.delete_queue(dlq);
  ASSERT_EQ(dead.size(), 1u) << docvault.output();
  EXPECT_EQ(dead[0].body, "not an event");
  EXPECT_EQ(dead[0].attributes.at("MessageGroupId"), "G-1");
  EXPECT_EQ(dead[0].message_attributes.at("docvault_rejection_reason").string_value, "invalid_message");
  EXPECT_EQ(rejected().size(), 1u);
  EXPECT_EQ(docvault.output().find("Failed to process event"), std::string::npos) << docvault.output();
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsumerFifoTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

TEST(ConsumerConfig, WithoutAQueueUrlHttpStillServes) {
  docvault::testing::TempDir dir;
  TestStorage storage(Backend::sqlite, dir.path() / "var");
  DocvaultInstance docvault(storage, dir.path() / "log", {{"DOCUMENT_VAULT_SQS_URL", ""}});
  ASSERT_TRUE(docvault.ready()) << docvault.output();
  EXPECT_TRUE(docvault.wait_for_log("Document Vault consumer not started"));
  EXPECT_NE(docvault.output().find("DOCUMENT_VAULT_SQS_URL is not set"), std::string::npos);
}

TEST(ConsumerConfig, OutOfRangeValuesStopStartUp) {
  docvault::testing::TempDir dir;
  TestStorage storage(Backend::sqlite, dir.path() / "var");
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"DOCUMENT_CONSUMER_MAX_MESSAGES", "11"},
           {"DOCUMENT_CONSUMER_WAIT_TIME", "21"},
           {"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "-1"},
           {"DOCUMENT_VAULT_SQS_URL", "queue-name"}}) {
    docvault::testing::Process p(docvault::testing::docvault_binary(), {"serve"}, {{name, value}},
                                 dir.path() / (name + ".log"));
    EXPECT_EQ(p.wait(10s), 2) << name;
    EXPECT_NE(p.output().find(name), std::string::npos) << p.output();
  }
}

}  // namespace
}  // namespace docvault
