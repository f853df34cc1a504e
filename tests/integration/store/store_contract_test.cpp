// The contract of store.h, run against SQLite and PostgreSQL alike.
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "backend_fixture.h"
#include "domain/uuid.h"
#include "sample_document.h"

namespace docvault::store {
namespace {

using docvault::testing::Backend;
using docvault::testing::make_document;
using docvault::testing::BackendTest;

Timestamp at(int seconds, int millis = 0) {
  return *parse_timestamp("2025-10-23T12:00:00.000Z") + std::chrono::seconds(seconds) +
         std::chrono::milliseconds(millis);
}

const EntityRef kIssuer{"issuer-1", EntityType::issuer};
const EntityRef kInvestor{"issuer-1", EntityType::investor};  // same id, other type

class StoreContract : public BackendTest {
 protected:
  void insert(const std::vector<Document>& docs) {
    write(store(), [&](Transaction& tx) {
      for (const auto& d : docs) tx.insert_document(d);
    });
  }
  std::optional<Document> find(const std::string& id) {
    return read(store(), [&](Transaction& tx) { return tx.find_document(*DocumentId::parse(id)); });
  }
};

TEST_P(StoreContract, MigrateIsIdempotentAndRecordsEveryVersion) {
  store().migrate();
  EXPECT_EQ(store().applied_migrations(), store().known_migrations());
  EXPECT_FALSE(store().known_migrations().empty());
}

TEST_P(StoreContract, DocumentRoundTripsExactly) {
  auto d = make_document(kIssuer, at(1, 234));
  d.filename = "O'Brien \"quoted\" 100%_x;--.pdf";
  d.entity.id = "ünïcode-'; DROP TABLE documents;--";
  insert({d});
  auto found = find(d.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, d);
  EXPECT_FALSE(find(uuid_v4()));
}

TEST_P(StoreContract, ListsOneEntityInStableOrderWithKeysetPages) {
  std::vector<Document> docs;
  for (int i = 0; i < 5; ++i) docs.push_back(make_document(kIssuer, at(i % 2)));  // ties on created_at
  insert(docs);
  insert({make_document(kInvestor, at(0)), make_document({"issuer-2", EntityType::issuer}, at(0))});

  auto all = read(store(), [&](Transaction& tx) { return tx.list_documents({kIssuer, std::nullopt, 100, std::nullopt}); });
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_TRUE(std::tie(all[i - 1].created_at, all[i - 1].id) < std::tie(all[i].created_at, all[i].id));
  }

  std::vector<Document> paged;
  std::optional<Cursor> after;
  while (true) {
    auto page = read(store(), [&](Transaction& tx) { return tx.list_documents({kIssuer, std::nullopt, 2, after}); });
    if (page.empty()) break;
    paged.insert(paged.end(), page.begin(), page.end());
    after = Cursor{page.back().created_at, page.back().id};
  }
  EXPECT_EQ(paged, all);
}

TEST_P(StoreContract, ArchiveDocumentChangesStateOnce) {
  auto d = make_document(kIssuer, at(0));
  insert({d});
  auto id = *DocumentId::parse(d.id);
  auto archived = write(store(), [&](Transaction& tx) { return tx.archive_document(id, "manual", at(10)); });
  ASSERT_TRUE(archived);
  EXPECT_EQ(archived->status, DocumentStatus::archived);
  EXPECT_EQ(archived->archived_at, at(10));
  EXPECT_EQ(archived->archive_reason, "manual");
  EXPECT_EQ(archived->updated_at, at(10));
  EXPECT_EQ(find(d.id), archived);

  auto again = write(store(), [&](Transaction& tx) { return tx.archive_document(id, "manual", at(20)); });
  EXPECT_FALSE(again);
  EXPECT_EQ(find(d.id)->archived_at, at(10));
  EXPECT_FALSE(write(store(), [&](Transaction& tx) {
    return tx.archive_document(*DocumentId::parse(uuid_v4()), "manual", at(20));
  }));
}

TEST_P(StoreContract, ArchiveEntityDocumentsTouchesOnlyThatEntitysActiveDocuments) {
  auto a = make_document(kIssuer, at(0));
  auto b = make_document(kIssuer, at(1));
  auto earlier = make_document(kIssuer, at(2));
  auto other = make_document(kInvestor, at(0));
  insert({a, b, earlier, other});
  write(store(), [&](Transaction& tx) { tx.archive_document(*DocumentId::parse(earlier.id), "manual", at(5)); });

  auto archived = write(store(), [&](Transaction& tx) { return tx.archive_entity_documents(kIssuer, "entity_deleted", at(9)); });
  std::vector<std::string> ids;
  for (const auto& d : archived) ids.push_back(d.id);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected{a.id, b.id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  for (const auto& d : archived) {
    EXPECT_EQ(d.status, DocumentStatus::archived);
    EXPECT_EQ(d.archive_reason, "entity_deleted");
  }
  EXPECT_EQ(find(earlier.id)->archive_reason, "manual");
  EXPECT_EQ(find(other.id)->status, DocumentStatus::active);

  auto second = write(store(), [&](Transaction& tx) { return tx.archive_entity_documents(kIssuer, "entity_deleted", at(10)); });
  EXPECT_TRUE(second.empty());
}

TEST_P(StoreContract, EntitySetUpdatesReturnTheDocumentsGroupedByEntityInTheOrderGiven) {
  const EntityRef deal{"deal-9", EntityType::deal};
  auto i2 = make_document(kIssuer, at(2));
  auto i1 = make_document(kIssuer, at(1));
  auto v1 = make_document(kInvestor, at(3));
  auto d1 = make_document(deal, at(0));
  // Same id, another type: not a target.
  auto lookalike = make_document({kIssuer.id, EntityType::deal}, at(0));
  insert({i2, i1, v1, d1, lookalike});
  const std::vector<EntityRef> targets{kInvestor, kIssuer, deal, {"nobody", EntityType::token}};

  auto ids = [](const std::vector<Document>& docs) {
    std::vector<std::string> out;
    for (const auto& d : docs) out.push_back(d.id);
    return out;
  };
  const std::vector<std::string> expected{v1.id, i1.id, i2.id, d1.id};
  EXPECT_EQ(ids(write(store(), [&](Transaction& tx) { return tx.suspend_entity_documents(targets, at(10), kNoLimit); })),
            expected);
  EXPECT_EQ(ids(write(store(), [&](Transaction& tx) {
              return tx.reinstate_entity_documents(targets, at(11), kNoLimit);
            })),
            expected);
  // In slices: each call takes the next ones, in the same order.
  std::vector<std::string> sliced;
  for (int call = 0; call < 3; ++call) {
    auto slice = ids(write(store(), [&](Transaction& tx) {
      return tx.archive_entity_documents(targets, "entity_deleted", at(12), 3);
    }));
    EXPECT_LE(slice.size(), 3u);
    sliced.insert(sliced.end(), slice.begin(), slice.end());
  }
  EXPECT_EQ(sliced, expected);
  EXPECT_EQ(find(lookalike.id)->status, DocumentStatus::active);
  EXPECT_FALSE(find(lookalike.id)->suspended_at);
  EXPECT_TRUE(write(store(), [&](Transaction& tx) {
                return tx.archive_entity_documents(targets, "entity_deleted", at(13), kNoLimit);
              }).empty());
  EXPECT_TRUE(write(store(), [&](Transaction& tx) {
                return tx.archive_entity_documents(std::span<const EntityRef>(), "entity_deleted", at(13), kNoLimit);
              }).empty());
}

TEST_P(StoreContract, EntityLifecycleTombstonesAreFinalAndSuspensionsLift) {
  const EntityRef a{"entity-a", EntityType::issuer}, b{"entity-b", EntityType::deal}, c{"entity-a", EntityType::deal};
  const std::vector<EntityRef> all{a, b, c};
  using store::EntityState;
  auto states = [&] { return store::read(store(), [&](store::Transaction& tx) { return tx.entity_states(all); }); };
  EXPECT_EQ(states(), (std::vector<EntityState>{EntityState::active, EntityState::active, EntityState::active}));

  store::write(store(), [&](store::Transaction& tx) {
    tx.lock_entities(all);
    const std::vector<store::EntityTransition> t{{a, EntityState::suspended, "evt-1", at(1)},
                                                 {b, EntityState::suspended, "evt-2", at(2)}};
    tx.record_entity_transitions(t);
  });
  EXPECT_EQ(states(), (std::vector<EntityState>{EntityState::suspended, EntityState::suspended, EntityState::active}));

  store::write(store(), [&](store::Transaction& tx) {
    const std::vector<store::EntityTransition> t{{a, EntityState::deleted, "evt-3", at(3)},
                                                 {b, EntityState::active, "evt-4", at(4)}};
    tx.record_entity_transitions(t);
  });
  EXPECT_EQ(states(), (std::vector<EntityState>{EntityState::deleted, EntityState::active, EntityState::active}));

  // A deletion is final: a later suspension or reinstatement of a leaves it deleted.
  store::write(store(), [&](store::Transaction& tx) {
    const std::vector<store::EntityTransition> t{{a, EntityState::active, "evt-5", at(5)},
                                                 {a, EntityState::deleted, "evt-6", at(6)}};
    tx.record_entity_transitions(t);
  });
  EXPECT_EQ(states().front(), EntityState::deleted);
  // Locking nothing, or one entity twice, is fine.
  store::write(store(), [&](store::Transaction& tx) {
    tx.lock_entities({});
    const std::vector<EntityRef> twice{a, a};
    tx.lock_entities(twice);
  });
}

TEST_P(StoreContract, ProcessedEventsAreRecordedInOneCallWithAnOutcomeEach) {
  ProcessedEvent before{"evt-b", "s", "entity.deleted", "issuer-1", "issuer", at(0), std::string(64, 'a')};
  write(store(), [&](Transaction& tx) { tx.record_processed_event(before); });

  auto reused = before;
  reused.payload_sha256 = std::string(64, 'f');
  ProcessedEvent fresh{"evt-new", "s", "entity.deleted", "issuer-2", "issuer", at(1), std::string(64, 'c')};
  ProcessedEvent bare{"evt-bare", "s", "entity.deleted", std::nullopt, std::nullopt, at(1), std::nullopt};
  auto fresh_reused = fresh;
  fresh_reused.payload_sha256 = std::string(64, 'd');
  const std::vector<ProcessedEvent> batch{fresh, before, bare, fresh, reused, fresh_reused};
  auto outcomes = write(store(), [&](Transaction& tx) { return tx.record_processed_events(batch); });
  EXPECT_EQ(outcomes, (std::vector<RecordOutcome>{RecordOutcome::recorded, RecordOutcome::duplicate,
                                                  RecordOutcome::recorded, RecordOutcome::duplicate,
                                                  RecordOutcome::event_id_reused, RecordOutcome::event_id_reused}));
  auto stored = read(store(), [&](Transaction& tx) { return tx.find_processed_event("evt-new"); });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->payload_sha256, fresh.payload_sha256);
  EXPECT_EQ(stored->entity_id, "issuer-2");
  auto stored_bare = read(store(), [&](Transaction& tx) { return tx.find_processed_event("evt-bare"); });
  ASSERT_TRUE(stored_bare);
  EXPECT_FALSE(stored_bare->entity_id);
  EXPECT_FALSE(stored_bare->payload_sha256);
  EXPECT_TRUE(write(store(), [&](Transaction& tx) {
                return tx.record_processed_events(std::span<const ProcessedEvent>());
              }).empty());
}

TEST_P(StoreContract, OutboxKeepsOrderAndIgnoresKnownEventIds) {
  std::vector<OutboxMessage> messages;
  for (int i = 0; i < 5; ++i) {
    messages.push_back(OutboxMessage{uuid_v4(), i % 2 ? Destination::sqs : Destination::sns,
                                     i % 2 ? "document_events" : "audit", "issuer-1",
                                     R"({"n":)" + std::to_string(i) + R"(,"q":"'\"%_"})", R"({"k":"v"})", at(i)});
  }
  write(store(), [&](Transaction& tx) { tx.append_outbox(messages); });
  write(store(), [&](Transaction& tx) { tx.append_outbox(std::span(messages).subspan(1, 2)); });
  auto stored = read(store(), [&](Transaction& tx) { return tx.outbox_messages("issuer-1"); });
  EXPECT_EQ(stored, messages);
  EXPECT_TRUE(read(store(), [&](Transaction& tx) { return tx.outbox_messages("issuer-2"); }).empty());
}

TEST_P(StoreContract, ProcessedEventIsRecordedOnceAndAReusedIdIsToldApart) {
  auto record = [&](const ProcessedEvent& e) { return write(store(), [&](Transaction& tx) { return tx.record_processed_event(e); }); };
  ProcessedEvent e{"evt-1", "entity_permissions_core", "entity.deleted", "issuer-1", "issuer", at(0), std::string(64, 'a')};
  EXPECT_EQ(record(e), RecordOutcome::recorded);
  EXPECT_EQ(record(e), RecordOutcome::duplicate);
  auto other_body = e;
  other_body.payload_sha256 = std::string(64, 'b');
  EXPECT_EQ(record(other_body), RecordOutcome::event_id_reused);
  // Without a hash on either side, nothing tells them apart.
  other_body.payload_sha256.reset();
  EXPECT_EQ(record(other_body), RecordOutcome::duplicate);

  ProcessedEvent bare{"evt-2", "s", "entity.deleted", std::nullopt, std::nullopt, at(0), std::nullopt};
  EXPECT_EQ(record(bare), RecordOutcome::recorded);
  bare.payload_sha256 = std::string(64, 'c');
  EXPECT_EQ(record(bare), RecordOutcome::duplicate);
}

TEST_P(StoreContract, AFailedTransactionLeavesNothing) {
  auto d = make_document(kIssuer, at(0));
  ProcessedEvent e{"evt-rollback", "s", "entity.deleted", std::nullopt, std::nullopt, at(0), std::nullopt};
  EXPECT_THROW(write(store(),
                     [&](Transaction& tx) {
                       tx.insert_document(d);
                       tx.record_processed_event(e);
                       tx.append_outbox(std::vector<OutboxMessage>{
                           {uuid_v4(), Destination::sns, "audit", "issuer-1", "{}", "{}", at(0)}});
                       throw std::runtime_error("fail after the writes");
                     }),
               std::runtime_error);
  EXPECT_FALSE(find(d.id));
  EXPECT_TRUE(read(store(), [&](Transaction& tx) { return tx.outbox_messages("issuer-1"); }).empty());
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.record_processed_event(e); }), RecordOutcome::recorded);
}

TEST_P(StoreContract, ConcurrentWritersAllCommit) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        insert({make_document({"busy-" + std::to_string(t), EntityType::deal}, at(i))});
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    auto docs = read(store(), [&](Transaction& tx) {
      return tx.list_documents({{"busy-" + std::to_string(t), EntityType::deal}, std::nullopt, 100, std::nullopt});
    });
    EXPECT_EQ(docs.size(), 25u);
  }
}

TEST_P(StoreContract, RejectedMessagesKeepTheBodyByteForByteOnce) {
  const std::string body = std::string("not json \xff\xfe \x00 end", 15) + std::string(256 * 1024, 'x');
  RejectedMessage m{"msg-1", body, "invalid_message", "body is not a JSON object", 3, at(1)};
  EXPECT_TRUE(write(store(), [&](Transaction& tx) { return tx.record_rejected_message(m); }));
  EXPECT_FALSE(write(store(), [&](Transaction& tx) { return tx.record_rejected_message(m); }));
  RejectedMessage later{"msg-2", "{}", "unknown_action", "action entity.renamed", 1, at(2)};
  write(store(), [&](Transaction& tx) { tx.record_rejected_message(later); });
  auto stored = read(store(), [&](Transaction& tx) { return tx.rejected_messages(10); });
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0], later);
  EXPECT_EQ(stored[1], m);
  EXPECT_EQ(read(store(), [&](Transaction& tx) { return tx.rejected_messages(1); }).size(), 1u);
}

OutboxMessage outbox_row(const std::string& key, int n) {
  return OutboxMessage{uuid_v4(), n % 2 ? Destination::sqs : Destination::sns, n % 2 ? "document_events" : "audit",
                       key, R"({"n":)" + std::to_string(n) + "}", "{}", at(n)};
}

std::vector<std::int64_t> seqs_of(const std::vector<OutboxRecord>& records) {
  std::vector<std::int64_t> out;
  for (const auto& r : records) out.push_back(r.seq);
  return out;
}

TEST_P(StoreContract, OutboxClaimsLeasePublishAndPurge) {
  std::vector<OutboxMessage> rows{outbox_row("a", 0), outbox_row("a", 1), outbox_row("b", 2)};
  write(store(), [&](Transaction& tx) { tx.append_outbox(rows); });
  EXPECT_EQ(read(store(), [](Transaction& tx) { return tx.outbox_backlog(); }).pending, 3u);

  auto claimed = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(100), at(130)); });
  ASSERT_EQ(claimed.size(), 3u);
  EXPECT_TRUE(std::is_sorted(claimed.begin(), claimed.end(), [](auto& x, auto& y) { return x.seq < y.seq; }));
  EXPECT_EQ(claimed[0].message, rows[0]);
  EXPECT_EQ(claimed[0].attempts, 0);
  // Leased: nobody else gets them until the lease runs out.
  EXPECT_TRUE(write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(110), at(140)); }).empty());
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(131), at(160)); }).size(), 3u);

  auto seqs = seqs_of(claimed);
  write(store(), [&](Transaction& tx) { tx.mark_published(seqs, at(200)); });
  auto backlog = read(store(), [](Transaction& tx) { return tx.outbox_backlog(); });
  EXPECT_EQ(backlog.pending, 0u);
  EXPECT_FALSE(backlog.oldest_pending_created_at);
  EXPECT_TRUE(write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(1000), at(1030)); }).empty());

  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.purge_published(at(150), 10); }), 0u);
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.purge_published(at(201), 2); }), 2u);
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.purge_published(at(201), 2); }), 1u);
  EXPECT_TRUE(read(store(), [](Transaction& tx) { return tx.outbox_messages("a"); }).empty());
}

TEST_P(StoreContract, AFailedOutboxRowHoldsBackLaterRowsOfItsKeyOnly) {
  std::vector<OutboxMessage> rows{outbox_row("a", 0), outbox_row("a", 1), outbox_row("b", 2)};
  write(store(), [&](Transaction& tx) { tx.append_outbox(rows); });
  auto claimed = write(store(), [&](Transaction& tx) { return tx.claim_outbox(1, at(100), at(130)); });
  ASSERT_EQ(claimed.size(), 1u);
  std::vector<PublishFailure> failed{{claimed[0].seq, "Throttling: slow down", at(300), true}};
  write(store(), [&](Transaction& tx) { tx.mark_failed(failed); });

  // "a"'s second row waits behind the first; "b" goes ahead.
  auto next = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(200), at(230)); });
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].message.ordering_key, "b");
  write(store(), [&](Transaction& tx) { tx.mark_published(seqs_of(next), at(201)); });

  // Once the retry is due, both of "a" come back, in order, with the attempt counted.
  auto retry = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(300), at(330)); });
  ASSERT_EQ(retry.size(), 2u);
  EXPECT_EQ(retry[0].seq, claimed[0].seq);
  EXPECT_EQ(retry[0].attempts, 1);
  EXPECT_EQ(retry[1].message, rows[1]);
  EXPECT_EQ(retry[1].attempts, 0);

  // Held back without an attempt: the count does not move.
  std::vector<PublishFailure> held{{retry[1].seq, "held back", at(400), false}};
  write(store(), [&](Transaction& tx) { tx.mark_failed(held); });
  auto last = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(400), at(430)); });
  EXPECT_EQ(last.size(), 2u);
  EXPECT_EQ(last[1].attempts, 0);
}

TEST_P(StoreContract, ReleasingGivesBackOnlyRowsStillUnderThatLease) {
  std::vector<OutboxMessage> rows{outbox_row("a", 0), outbox_row("b", 1)};
  write(store(), [&](Transaction& tx) { tx.append_outbox(rows); });
  auto mine = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(100), at(130)); });
  ASSERT_EQ(mine.size(), 2u);
  // Given back under the lease it was claimed with: due at once, no attempt counted.
  write(store(), [&](Transaction& tx) { tx.release_outbox(seqs_of(mine), at(130)); });
  auto again = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(101), at(200)); });
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].attempts, 0);
  // Under another relay's lease now: a stale release changes nothing.
  write(store(), [&](Transaction& tx) { tx.release_outbox(seqs_of(mine), at(130)); });
  EXPECT_TRUE(write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(102), at(300)); }).empty());
}

TEST_P(StoreContract, RequeuedRowsGoOutAgainAndOutliveRetention) {
  std::vector<OutboxMessage> rows{outbox_row("a", 0), outbox_row("a", 1), outbox_row("b", 2)};
  write(store(), [&](Transaction& tx) { tx.append_outbox(rows); });
  auto first = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(100), at(130)); });
  ASSERT_EQ(first.size(), 3u);
  write(store(), [&](Transaction& tx) { tx.mark_published(seqs_of(first), at(101)); });

  // One row, picked by a string its payload holds; then the whole key.
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.requeue_outbox("a", std::string(R"("n":1)")); }), 1u);
  EXPECT_EQ(read(store(), [](Transaction& tx) { return tx.outbox_backlog(); }).pending, 1u);
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.requeue_outbox("a", std::nullopt); }), 2u);
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.requeue_outbox("nobody", std::nullopt); }), 0u);
  auto backlog = read(store(), [](Transaction& tx) { return tx.outbox_backlog(); });
  EXPECT_EQ(backlog.pending, 2u);
  EXPECT_EQ(backlog.oldest_pending_created_at, at(0));

  // Retention takes the row published long ago, not those pending again.
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.purge_published(at(1000), 10); }), 1u);
  EXPECT_EQ(read(store(), [](Transaction& tx) { return tx.outbox_messages("a"); }).size(), 2u);
  EXPECT_TRUE(read(store(), [](Transaction& tx) { return tx.outbox_messages("b"); }).empty());

  auto again = write(store(), [&](Transaction& tx) { return tx.claim_outbox(10, at(1000), at(1030)); });
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].message, rows[0]);
  EXPECT_EQ(again[1].message, rows[1]);
  write(store(), [&](Transaction& tx) { tx.mark_published(seqs_of(again), at(1001)); });
  // A late mark of the same rows (a relay whose lease ran out) changes
  // nothing: they were published at 1001, so retention at 1003 takes them.
  write(store(), [&](Transaction& tx) { tx.mark_published(seqs_of(again), at(1005)); });
  EXPECT_EQ(write(store(), [&](Transaction& tx) { return tx.purge_published(at(1003), 10); }), 2u);
  EXPECT_EQ(read(store(), [](Transaction& tx) { return tx.outbox_backlog(); }).pending, 0u);
}

TEST_P(StoreContract, ConcurrentClaimsNeverShareARow) {
  std::vector<OutboxMessage> rows;
  for (int i = 0; i < 200; ++i) rows.push_back(outbox_row("k" + std::to_string(i % 17), i));
  write(store(), [&](Transaction& tx) { tx.append_outbox(rows); });
  std::vector<std::vector<std::int64_t>> claimed(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto batch = write(store(), [&](Transaction& tx) { return tx.claim_outbox(7, at(1000), at(2000)); });
        if (batch.empty()) return;
        auto seqs = seqs_of(batch);
        // Published, as a relay would, so the later rows of those keys come free.
        write(store(), [&](Transaction& tx) { tx.mark_published(seqs, at(1001)); });
        claimed[t].insert(claimed[t].end(), seqs.begin(), seqs.end());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::int64_t> all;
  std::size_t total = 0;
  for (const auto& c : claimed) {
    all.insert(c.begin(), c.end());
    total += c.size();
  }
  EXPECT_EQ(total, 200u);
  EXPECT_EQ(all.size(), 200u);
}

TEST_P(StoreContract, CommittedOutboxRowsWakeAWaiter) {
  auto seen = store().wait_for_outbox(0, std::chrono::milliseconds(0), {});
  // PostgreSQL's store starts listening with the first wait, and wakes its
  // waiters once the LISTEN is up (rows may have come meanwhile): past that.
  if (GetParam() == Backend::postgresql) seen = store().wait_for_outbox(seen, std::chrono::seconds(10), {});
  std::atomic<bool> woken{false};
  std::uint64_t next = seen;
  std::thread waiter([&] {
    next = store().wait_for_outbox(seen, std::chrono::seconds(10), {});
    woken = true;
  });
  // Nothing committed: the waiter keeps waiting (the check, and the moment
  // it needs to begin its wait).
  EXPECT_FALSE(docvault::testing::wait_until([&] { return woken.load(); }, std::chrono::milliseconds(50)));
  write(store(), [&](Transaction& tx) { tx.append_outbox(std::vector<OutboxMessage>{outbox_row("w", 1)}); });
  EXPECT_TRUE(docvault::testing::wait_until([&] { return woken.load(); }, std::chrono::seconds(5)));
  waiter.join();
  EXPECT_NE(next, seen);
}

TEST_P(StoreContract, PingAnswers) { EXPECT_NO_THROW(store().ping()); }

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

}  // namespace
}  // namespace docvault::store
