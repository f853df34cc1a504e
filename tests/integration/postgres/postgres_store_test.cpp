#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "postgres_fixture.h"
#include "test_env.h"

namespace docvault::testing {
namespace {

using store::PostgresStore;
using store::StoreError;
using store::StoreUnavailable;
using store::Transaction;

class PostgresStoreTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    store_ = open_store();
    store_->migrate();
  }
  void TearDown() override {
    store_.reset();  // close the pool before the database is dropped
    PostgresTest::TearDown();
  }
  std::unique_ptr<PostgresStore> store_;
  const EntityRef issuer_{"issuer-1", EntityType::issuer};
};

TEST(PostgresStoreOffline, UnreachableServerIsUnavailableAndKeepsThePasswordSecret) {
  PostgresStore store("postgresql://app:topsecret@127.0.0.1:" + std::to_string(free_port()) +
                          "/docvault?connect_timeout=2",
                      2);
  EXPECT_EQ(store.backend(), "postgresql");
  try {
    store.ping();
    FAIL() << "ping succeeded without a server";
  } catch (const StoreUnavailable& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.write([](Transaction&) {}), StoreUnavailable);
  EXPECT_THROW(store.migrate(), StoreUnavailable);
}

TEST_F(PostgresStoreTest, MigratesOnceAndKnowsItsVersions) {
  EXPECT_EQ(store_->applied_migrations(), store_->known_migrations());
  store_->migrate();  // nothing left to do
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM schema_migrations"),
            static_cast<int>(store_->known_migrations().size()));
}

TEST_F(PostgresStoreTest, AppliedMigrationsIsEmptyOnAFreshDatabase) {
  auto fresh = open_store();
  pqxx::connection connection(url());
  pqxx::nontransaction(connection).exec("DROP TABLE schema_migrations");
  EXPECT_TRUE(fresh->applied_migrations().empty());
  fresh->ping();
}

TEST_F(PostgresStoreTest, DocumentsRoundTripToTheMillisecond) {
  auto document = make_document(issuer_, at_ms(1'761'222'896'789));
  document.updated_at = at_ms(1'761'222'896'790);
  document.filename = "quarterly \"report\", v2\\final.pdf";
  store_->write([&](Transaction& tx) { tx.insert_document(document); });
  const auto found = store::read(*store_, [&](Transaction& tx) {
    return tx.find_document(*DocumentId::parse(document.id));
  });
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, document);

  const auto archived = store::write(*store_, [&](Transaction& tx) {
    return tx.archive_document(*DocumentId::parse(document.id), kReasonManual, at_ms(1'761'222'900'001));
  });
  ASSERT_TRUE(archived);
  EXPECT_EQ(archived->status, DocumentStatus::archived);
  EXPECT_EQ(archived->archived_at, at_ms(1'761'222'900'001));
  EXPECT_EQ(archived->updated_at, at_ms(1'761'222'900'001));
  EXPECT_EQ(archived->archive_reason, std::string(kReasonManual));
  EXPECT_EQ(store::read(*store_, [&](Transaction& tx) {
              return tx.find_document(*DocumentId::parse(document.id));
            }),
            archived);
  EXPECT_FALSE(store::write(*store_, [&](Transaction& tx) {
    return tx.archive_document(*DocumentId::parse(document.id), kReasonManual, at_ms(1'761'222'999'000));
  }));
}

TEST_F(PostgresStoreTest, ListsByKeysetWithAndWithoutStatus) {
  std::vector<Document> documents;
  for (int i = 0; i < 7; ++i) documents.push_back(make_document(issuer_, at_ms(1000 + i / 2)));
  const auto other = make_document({"issuer-2", EntityType::issuer}, at_ms(1000));
  const auto same_id_other_type = make_document({"issuer-1", EntityType::deal}, at_ms(1000));
  store_->write([&](Transaction& tx) {
    for (const auto& d : documents) tx.insert_document(d);
    tx.insert_document(other);
    tx.insert_document(same_id_other_type);
    tx.archive_document(*DocumentId::parse(documents[2].id), kReasonManual, at_ms(5000));
  });
  std::sort(documents.begin(), documents.end(), [](const Document& a, const Document& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });

  std::vector<std::string> seen;
  store::DocumentFilter filter{.entity = issuer_, .status = std::nullopt, .limit = 3, .after = std::nullopt};
  for (;;) {
    const auto page = store::read(*store_, [&](Transaction& tx) { return tx.list_documents(filter); });
    if (page.empty()) break;
    EXPECT_LE(page.size(), 3u);
    for (const auto& d : page) seen.push_back(d.id);
    filter.after = store::Cursor{page.back().created_at, page.back().id};
  }
  std::vector<std::string> expected;
  for (const auto& d : documents) expected.push_back(d.id);
  EXPECT_EQ(seen, expected);

  filter = {.entity = issuer_, .status = DocumentStatus::active, .limit = 50, .after = std::nullopt};
  EXPECT_EQ(store::read(*store_, [&](Transaction& tx) { return tx.list_documents(filter); }).size(), 6u);
  filter.status = DocumentStatus::archived;
  EXPECT_EQ(store::read(*store_, [&](Transaction& tx) { return tx.list_documents(filter); }).size(), 1u);
  filter.status = DocumentStatus::active;
  filter.after = store::Cursor{documents[3].created_at, documents[3].id};
  filter.limit = 2;
  const auto page = store::read(*store_, [&](Transaction& tx) { return tx.list_documents(filter); });
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, documents[4].id);
}

TEST_F(PostgresStoreTest, ArchivesAnEntityInOneStatementLeavingEarlierArchivesAlone) {
  std::vector<Document> documents;
  for (int i = 0; i < 5; ++i) documents.push_back(make_document(issuer_, at_ms(2000 + i)));
  const auto bystander = make_document({"issuer-1", EntityType::investor}, at_ms(2000));
  store_->write([&](Transaction& tx) {
    for (const auto& d : documents) tx.insert_document(d);
    tx.insert_document(bystander);
    tx.archive_document(*DocumentId::parse(documents[0].id), kReasonManual, at_ms(3000));
  });
  const auto archived = store::write(*store_, [&](Transaction& tx) {
    return tx.archive_entity_documents(issuer_, kReasonEntityDeleted, at_ms(4000));
  });
  ASSERT_EQ(archived.size(), 4u);
  for (std::size_t i = 0; i < archived.size(); ++i) {
    EXPECT_EQ(archived[i].id, documents[i + 1].id);  // in (created_at, id) order
    EXPECT_EQ(archived[i].archive_reason, std::string(kReasonEntityDeleted));
    EXPECT_EQ(archived[i].archived_at, at_ms(4000));
  }
  const auto first = store::read(*store_, [&](Transaction& tx) {
    return tx.find_document(*DocumentId::parse(documents[0].id));
  });
  EXPECT_EQ(first->archive_reason, std::string(kReasonManual));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents WHERE status = 'active'"), 1);
  EXPECT_TRUE(store::write(*store_, [&](Transaction& tx) {
                return tx.archive_entity_documents(issuer_, kReasonEntityDeleted, at_ms(5000));
              }).empty());
}

TEST_F(PostgresStoreTest, OutboxKeepsPayloadsByteForByteInOrderAndIgnoresKnownIds) {
  const std::vector<std::string> payloads = {
      R"({"a":"quote \" and backslash \\ and braces {},"})", "", "NULL", "  padded  ",
      "comma, separated", "unicode: \xc3\xa9\xe2\x82\xac", "line\nbreak\ttab", "{}", "\\", "\""};
  std::vector<OutboxMessage> messages;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    messages.push_back(make_message("entity-x", payloads[i], at_ms(1000 + static_cast<int>(i)),
                                    i % 2 ? Destination::sns : Destination::sqs));
  }
  messages[3].attributes = R"({"k":"v \" w"})";
  store_->write([&](Transaction& tx) { tx.append_outbox(messages); });
  // Again, plus one new message: the known ones stay as they are, in place.
  auto again = messages;
  again[0].payload = "changed";
  again.push_back(make_message("entity-x", "last", at_ms(9000)));
  store_->write([&](Transaction& tx) {
    tx.append_outbox(again);
    tx.append_outbox({});
  });
  auto expected = messages;
  expected.push_back(again.back());
  EXPECT_EQ(store::read(*store_, [](Transaction& tx) { return tx.outbox_messages("entity-x"); }),
            expected);
  EXPECT_TRUE(store::read(*store_, [](Transaction& tx) { return tx.outbox_messages("other"); }).empty());
}

TEST_F(PostgresStoreTest, RecordsAProcessedEventOnce) {
  const store::ProcessedEvent event{"evt-1", "epr-service", "issuer.deleted", "issuer-1", "issuer",
                                    at_ms(1000), std::nullopt};
  EXPECT_EQ(store::write(*store_, [&](Transaction& tx) { return tx.record_processed_event(event); }),
            store::RecordOutcome::recorded);
  EXPECT_EQ(store::write(*store_, [&](Transaction& tx) { return tx.record_processed_event(event); }),
            store::RecordOutcome::duplicate);
  const store::ProcessedEvent without_entity{"evt-2", "epr-service", "ping", std::nullopt,
                                             std::nullopt, at_ms(1000), std::nullopt};
  EXPECT_EQ(store::write(*store_, [&](Transaction& tx) { return tx.record_processed_event(without_entity); }),
            store::RecordOutcome::recorded);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM processed_events WHERE entity_id IS NULL"), 1);
}

struct CallerFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST_F(PostgresStoreTest, CallbackExceptionsRollBackAndPropagateUnchanged) {
  const auto document = make_document(issuer_, at_ms(1000));
  EXPECT_THROW(store_->write([&](Transaction& tx) {
    tx.insert_document(document);
    tx.append_outbox(std::vector{make_message(issuer_.id, "{}", at_ms(1000))});
    throw CallerFailure("nope");
  }),
               CallerFailure);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents"), 0);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM outbox_events"), 0);
  store_->write([&](Transaction& tx) { tx.insert_document(document); });  // the pool still works
}

TEST_F(PostgresStoreTest, DatabaseErrorsBecomeStoreErrorsWithoutValues) {
  auto document = make_document(issuer_, at_ms(1000));
  store_->write([&](Transaction& tx) { tx.insert_document(document); });
  try {
    store_->write([&](Transaction& tx) { tx.insert_document(document); });
    FAIL() << "duplicate insert succeeded";
  } catch (const StoreUnavailable& e) {
    FAIL() << "a constraint violation is not unavailability: " << e.what();
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("23505"), std::string::npos) << what;
    EXPECT_EQ(what.find(document.id), std::string::npos) << what;
  }
  auto bad = make_document(issuer_, at_ms(1000));
  bad.id = "not-a-uuid-secret-value";
  try {
    store_->write([&](Transaction& tx) { tx.insert_document(bad); });
    FAIL() << "malformed id accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(std::string(e.what()).find("secret-value"), std::string::npos) << e.what();
  }
}

// PostgreSQL answers COMMIT after a failed statement with a silent ROLLBACK;
// a caller that swallowed the error must still learn that nothing was written.
TEST_F(PostgresStoreTest, SwallowingAStatementErrorStillFailsTheTransaction) {
  const auto document = make_document(issuer_, at_ms(1000));
  store_->write([&](Transaction& tx) { tx.insert_document(document); });
  const auto other = make_document(issuer_, at_ms(2000));
  EXPECT_THROW(store_->write([&](Transaction& tx) {
    tx.insert_document(other);
    try {
      tx.insert_document(document);
    } catch (const StoreError&) {
    }
  }),
               StoreError);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents"), 1);
}

TEST_F(PostgresStoreTest, ReadTransactionsAreReadOnly) {
  EXPECT_THROW(store_->read([&](Transaction& tx) { tx.insert_document(make_document(issuer_, at_ms(1))); }),
               StoreError);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents"), 0);
}

// The cascade of a large entity: one UPDATE and one outbox append inside one
// write transaction. Timing is printed for the record, never asserted.
TEST_F(PostgresStoreTest, CompactingTheOutboxQueueSparesClaimsTheRowsAlreadyPublished) {
  // 5,000 rows appended, claimed and published: their index entries in
  // outbox_pending stay behind until a vacuum, and a claim walks them.
  std::vector<OutboxMessage> messages;
  for (int i = 0; i < 5000; ++i) messages.push_back(make_message("entity-" + std::to_string(i), "{}", at_ms(i)));
  store_->write([&](Transaction& tx) { tx.append_outbox(messages); });
  std::vector<std::int64_t> seqs;
  store_->write([&](Transaction& tx) {
    for (const auto& r : tx.claim_outbox(5000, at_ms(10'000), at_ms(40'000))) seqs.push_back(r.seq);
  });
  ASSERT_EQ(seqs.size(), 5000u);
  store_->write([&](Transaction& tx) { tx.mark_published(seqs, at_ms(11'000)); });
  store_->write([&](Transaction& tx) { tx.append_outbox(std::vector{make_message("late", "{}", at_ms(12'000))}); });

  // The pages the claim's scan reads to find the first pending row.
  auto pages_read = [&] {
    auto plan = nlohmann::json::parse(scalar<std::string>(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT seq FROM outbox_pending ORDER BY seq LIMIT 1"));
    const auto& root = plan[0]["Plan"];
    return root["Shared Hit Blocks"].get<int>() + root["Shared Read Blocks"].get<int>();
  };
  pages_read();  // the first scan marks the dead entries; later ones still read their pages
  const int before = pages_read();
  store_->compact_outbox_queue();
  const int after = pages_read();
  EXPECT_GE(before, 10);
  EXPECT_LE(after, 3) << "before: " << before;
}

TEST_F(PostgresStoreTest, CascadesTenThousandDocumentsWithTwentyThousandMessages) {
  constexpr int kDocuments = 10'000;
  std::vector<Document> documents;
  documents.reserve(kDocuments);
  for (int i = 0; i < kDocuments; ++i) documents.push_back(make_document(issuer_, at_ms(1'000'000 + i)));
  store_->write([&](Transaction& tx) {
    for (const auto& d : documents) tx.insert_document(d);
  });
  const std::string payload_body(400, 'x');

  const auto started = std::chrono::steady_clock::now();
  std::size_t archived_count = 0;
  store_->write([&](Transaction& tx) {
    const auto archived = tx.archive_entity_documents(issuer_, kReasonEntityDeleted, at_ms(2'000'000));
    archived_count = archived.size();
    std::vector<OutboxMessage> messages;
    messages.reserve(archived.size() * 2);
    for (const auto& d : archived) {
      const std::string payload = R"({"document_id":")" + d.id + R"(","note":")" + payload_body + R"("})";
      messages.push_back(make_message(d.entity.id, payload, at_ms(2'000'000), Destination::sns));
      messages.push_back(make_message(d.entity.id, payload, at_ms(2'000'000), Destination::sqs));
    }
    tx.append_outbox(messages);
  });
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << "[ timing   ] archive_entity_documents(" << kDocuments
            << ") + append_outbox(" << 2 * kDocuments << ") in one transaction: " << elapsed.count()
            << " ms\n";

  EXPECT_EQ(archived_count, static_cast<std::size_t>(kDocuments));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM documents WHERE status = 'archived'"), kDocuments);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM outbox_events"), 2 * kDocuments);
}

}  // namespace
}  // namespace docvault::testing
