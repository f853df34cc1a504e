// DocumentService use cases against the real stores (SQLite and PostgreSQL)
// and the real filesystem blob store.
#include "service/document_service.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend_fixture.h"
#include "fake_clock.h"
#include "blob/filesystem_blob_store.h"
#include "forwarding_store.h"
#include "domain/uuid.h"

namespace docvault::service {
namespace {

using docvault::testing::Backend;

// Time stands still unless the test advances it.
class FixedClock final : public docvault::testing::FakeClock {
 public:
  FixedClock() { set_now(*parse_timestamp("2025-10-23T12:34:56.789Z")); }
};

// Makes the outbox append fail mid-transaction on demand.
class FaultyStore final : public docvault::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  bool fail_outbox = false;

 protected:
  std::unique_ptr<store::Transaction> wrap_transaction(store::Transaction& tx) override {
    struct Faulty final : docvault::testing::ForwardingTransaction {
      Faulty(store::Transaction& inner, const bool& fail) : ForwardingTransaction(inner), fail_(fail) {}
      void append_outbox(std::span<const OutboxMessage> m) override {
        if (fail_) throw store::StoreUnavailable("injected: connection lost");
        ForwardingTransaction::append_outbox(m);
      }
      const bool& fail_;
    };
    return std::make_unique<Faulty>(tx, fail_outbox);
  }
};

class DocumentServiceTest : public docvault::testing::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    blobs_.emplace(dir() / "blobs");
    faulty_.emplace(store());
    service_.emplace(*faulty_, *blobs_, clock_);
  }

  Document upload(const std::string& entity_id, const std::string& content = "content",
                  const std::string& entity_type = "issuer") {
    auto created = service_->create(DocumentUpload{entity_id, entity_type, "prospectus", "p.pdf", "application/pdf"},
                                    content, Actor::anonymous());
    EXPECT_TRUE(created) << (created ? "" : created.error().message);
    clock_.advance(std::chrono::milliseconds(1));
    return created.value();
  }

  std::vector<OutboxMessage> outbox(const std::string& entity_id) {
    return store::read(store(), [&](store::Transaction& tx) { return tx.outbox_messages(entity_id); });
  }

  std::size_t blob_count() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir() / "blobs")) {
      if (e.is_regular_file()) ++n;
    }
    return n;
  }

  FixedClock clock_;
  std::optional<blob::FilesystemBlobStore> blobs_;
  std::optional<FaultyStore> faulty_;
  std::optional<DocumentService> service_;
};

TEST_P(DocumentServiceTest, CreateStoresContentRowAndCreatedEvents) {
  auto d = upload("issuer-1", "hello");
  EXPECT_EQ(d.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(d.size_bytes, 5u);
  EXPECT_EQ(d.status, DocumentStatus::active);
  EXPECT_EQ(service_->get(*DocumentId::parse(d.id)), d);

  std::string content;
  service_->read_content(d, 0, d.size_bytes, [&](std::string_view chunk) {
    content.append(chunk);
    return true;
  });
  EXPECT_EQ(content, "hello");

  auto events = outbox("issuer-1");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(events[0].payload)["action"], "document.created");
  EXPECT_EQ(nlohmann::json::parse(events[1].payload)["payload"]["document_id"], d.id);
}

TEST_P(DocumentServiceTest, InvalidUploadWritesNothing) {
  auto created = service_->create(DocumentUpload{"issuer-1", "fund", std::nullopt, "x", ""}, "data", Actor::anonymous());
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().field, "entity_type");
  EXPECT_EQ(blob_count(), 0u);
  EXPECT_TRUE(outbox("issuer-1").empty());
}

TEST_P(DocumentServiceTest, ListFiltersAndPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(upload("issuer-1").id);
  upload("issuer-2");
  service_->archive(*DocumentId::parse(ids[1]), Actor::anonymous());

  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  do {
    auto page = service_->list(ListQuery{"issuer-1", "issuer", std::nullopt, "2", cursor});
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_LE(page->items.size(), 2u);
    for (const auto& d : page->items) seen.push_back(d.id);
    cursor = page->next_cursor;
  } while (cursor);
  EXPECT_EQ(seen, ids);

  auto archived = service_->list(ListQuery{"issuer-1", "issuer", "archived", std::nullopt, std::nullopt});
  ASSERT_TRUE(archived);
  ASSERT_EQ(archived->items.size(), 1u);
  EXPECT_EQ(archived->items[0].id, ids[1]);
  EXPECT_FALSE(archived->next_cursor);
  EXPECT_EQ(service_->list(ListQuery{"issuer-1", "issuer", "active", std::nullopt, std::nullopt})->items.size(), 4u);
}

TEST_P(DocumentServiceTest, ListRejectsBadParameters) {
  auto field_of = [&](ListQuery q) { return service_->list(q).error().field; };
  EXPECT_EQ(field_of({"", "issuer", {}, {}, {}}), "entity_id");
  EXPECT_EQ(field_of({"e", "fund", {}, {}, {}}), "entity_type");
  EXPECT_EQ(field_of({"e", "issuer", "deleted", {}, {}}), "status");
  EXPECT_EQ(field_of({"e", "issuer", {}, "0", {}}), "limit");
  EXPECT_EQ(field_of({"e", "issuer", {}, "201", {}}), "limit");
  EXPECT_EQ(field_of({"e", "issuer", {}, "ten", {}}), "limit");
  EXPECT_EQ(field_of({"e", "issuer", {}, {}, "not-a-cursor!"}), "cursor");
  EXPECT_EQ(field_of({"e", "issuer", {}, {}, "bm90IGEgY3Vyc29y"}), "cursor");
}

TEST_P(DocumentServiceTest, ArchiveIsIdempotentAndEmitsOnce) {
  auto d = upload("issuer-1");
  auto id = *DocumentId::parse(d.id);
  auto first = service_->archive(id, Actor::anonymous());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, DocumentStatus::archived);
  EXPECT_EQ(first->archive_reason, "manual");
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(service_->archive(id, Actor::anonymous()), first);
  EXPECT_EQ(outbox("issuer-1").size(), 4u);  // created ×2, archived ×2
  EXPECT_FALSE(service_->archive(*DocumentId::parse(uuid_v4()), Actor::anonymous()));
}

TEST_P(DocumentServiceTest, CascadeArchivesTheEntityOnceWithItsEvents) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(upload("issuer-1").id);
  auto other = upload("issuer-2");
  EntityRef entity{"issuer-1", EntityType::issuer};

  auto archived = service_->cascade_archive_by_entity(entity, kReasonEntityDeleted, "evt-1");
  std::sort(archived.begin(), archived.end());
  auto expected = ids;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(archived, expected);

  auto events = outbox("issuer-1");
  ASSERT_EQ(events.size(), 3u * 2 + 3u * 2);
  for (std::size_t i = 6; i < events.size(); ++i) {
    auto payload = nlohmann::json::parse(events[i].payload);
    if (events[i].destination == Destination::sns) {
      EXPECT_EQ(payload["actor_type"], "system");
      EXPECT_EQ(payload["details"]["reason"], "entity_deleted");
      EXPECT_EQ(payload["details"]["source_entity_id"], "issuer-1");
      EXPECT_EQ(payload["details"]["source_entity_type"], "issuer");
    } else {
      EXPECT_EQ(payload["payload"]["reason"], "entity_deleted");
    }
  }

  EXPECT_TRUE(service_->cascade_archive_by_entity(entity, kReasonEntityDeleted, "evt-1").empty());
  EXPECT_EQ(outbox("issuer-1").size(), events.size());
  EXPECT_EQ(service_->get(*DocumentId::parse(other.id))->status, DocumentStatus::active);
  EXPECT_TRUE(service_->cascade_archive_by_entity({"nobody", EntityType::deal}, kReasonEntityDeleted, "evt-2").empty());
}

TEST_P(DocumentServiceTest, CascadeIsAllOrNothing) {
  auto a = upload("issuer-1");
  auto b = upload("issuer-1");
  faulty_->fail_outbox = true;
  EXPECT_THROW(service_->cascade_archive_by_entity({"issuer-1", EntityType::issuer}, kReasonEntityDeleted, "evt-1"),
               store::StoreUnavailable);
  EXPECT_EQ(service_->get(*DocumentId::parse(a.id))->status, DocumentStatus::active);
  EXPECT_EQ(service_->get(*DocumentId::parse(b.id))->status, DocumentStatus::active);
  EXPECT_EQ(outbox("issuer-1").size(), 4u);

  faulty_->fail_outbox = false;
  EXPECT_EQ(service_->cascade_archive_by_entity({"issuer-1", EntityType::issuer}, kReasonEntityDeleted, "evt-1").size(), 2u);
}

EntityEvent deleted(const std::string& event_id, const std::string& entity_id, const std::string& type = "issuer",
                    const std::string& body_hash = std::string(64, '0')) {
  EntityEvent e;
  e.event_id = event_id;
  e.source = "entity_permissions_core";
  e.action = "entity.deleted";
  e.entity_id = entity_id;
  e.entity_type = type;
  e.supported_type = parse_entity_type(type);
  e.canonical_sha256 = body_hash;
  return e;
}

TEST_P(DocumentServiceTest, EntityDeletedEventArchivesOnceAndRecordsTheEvent) {
  upload("issuer-1");
  upload("issuer-1");
  auto first = service_->handle_entity_event(deleted("evt-1", "issuer-1"));
  EXPECT_EQ(first.outcome, EventOutcome::processed);
  EXPECT_EQ(first.documents_changed, 2u);
  auto events = outbox("issuer-1");
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[4].event_id, outgoing_event_id("evt-1", nlohmann::json::parse(events[4].payload)["entity_id"].get<std::string>(),
                                                   kActionDocumentArchived, Destination::sns));

  auto again = service_->handle_entity_event(deleted("evt-1", "issuer-1"));
  EXPECT_EQ(again.outcome, EventOutcome::duplicate);
  EXPECT_EQ(outbox("issuer-1").size(), 8u);

  // A new event for the same entity finds nothing left to archive.
  auto later = service_->handle_entity_event(deleted("evt-2", "issuer-1"));
  EXPECT_EQ(later.outcome, EventOutcome::processed);
  EXPECT_EQ(later.documents_changed, 0u);
}

TEST_P(DocumentServiceTest, AnEventIdReusedForAnotherEventIsToldApart) {
  upload("issuer-1");
  EXPECT_EQ(service_->handle_entity_event(deleted("evt-1", "issuer-1")).outcome, EventOutcome::processed);
  auto reused = service_->handle_entity_event(deleted("evt-1", "issuer-2", "issuer", std::string(64, '9')));
  EXPECT_EQ(reused.outcome, EventOutcome::event_id_reused);
  EXPECT_EQ(reused.documents_changed, 0u);
}

TEST_P(DocumentServiceTest, UnsupportedEntityTypeIsMarkedProcessed) {
  auto result = service_->handle_entity_event(deleted("evt-fund", "fund-1", "fund"));
  EXPECT_EQ(result.outcome, EventOutcome::unsupported_entity_type);
  EXPECT_EQ(service_->handle_entity_event(deleted("evt-fund", "fund-1", "fund")).outcome, EventOutcome::duplicate);
}

TEST_P(DocumentServiceTest, AFailedEventLeavesNoTraceAndCanBeRetried) {
  upload("issuer-1");
  faulty_->fail_outbox = true;
  EXPECT_THROW(service_->handle_entity_event(deleted("evt-1", "issuer-1")), store::StoreUnavailable);
  faulty_->fail_outbox = false;
  // Not recorded as processed: the retry does the work.
  auto retry = service_->handle_entity_event(deleted("evt-1", "issuer-1"));
  EXPECT_EQ(retry.outcome, EventOutcome::processed);
  EXPECT_EQ(retry.documents_changed, 1u);
}

TEST_P(DocumentServiceTest, ABatchOfEventsIsOneTransactionAndEachEntitysEventsApplyInOrder) {
  upload("issuer-1");
  upload("issuer-1");
  upload("issuer-2");
  upload("deal-1", "x", "deal");
  auto suspended = deleted("evt-s", "issuer-1");
  suspended.action = "entity.suspended";
  const std::vector<EntityEvent> batch{suspended,
                                       deleted("evt-1", "issuer-1"),  // after the suspension, same entity
                                       deleted("evt-2", "issuer-2"),
                                       deleted("evt-2", "issuer-2"),  // a repeat within the batch
                                       deleted("evt-f", "fund-1", "fund"),
                                       deleted("evt-d", "deal-1", "deal")};
  std::vector<const EntityEvent*> events;
  for (const auto& e : batch) events.push_back(&e);
  auto results = service_->handle_entity_events(events);
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0].outcome, EventOutcome::processed);
  EXPECT_EQ(results[0].documents_changed, 2u);
  EXPECT_EQ(results[1].outcome, EventOutcome::processed);
  EXPECT_EQ(results[1].documents_changed, 2u);
  EXPECT_EQ(results[2].documents_changed, 1u);
  EXPECT_EQ(results[3].outcome, EventOutcome::duplicate);
  EXPECT_EQ(results[4].outcome, EventOutcome::unsupported_entity_type);
  EXPECT_EQ(results[5].documents_changed, 1u);

  // issuer-1: created x2, then suspended x2, then archived x2, in that order,
  // each event's outgoing ids caused by its own event_id.
  auto events_1 = outbox("issuer-1");
  ASSERT_EQ(events_1.size(), 12u);
  auto action_of = [](const OutboxMessage& m) { return nlohmann::json::parse(m.payload)["action"].get<std::string>(); };
  EXPECT_EQ(action_of(events_1[4]), kActionDocumentSuspended);
  EXPECT_EQ(action_of(events_1[10]), kActionDocumentArchived);
  const auto doc = nlohmann::json::parse(events_1[8].payload)["entity_id"].get<std::string>();
  EXPECT_EQ(events_1[8].event_id, outgoing_event_id("evt-1", doc, kActionDocumentArchived, Destination::sns));
  EXPECT_EQ(outbox("issuer-2").size(), 4u);
  EXPECT_EQ(outbox("deal-1").size(), 4u);
}

TEST_P(DocumentServiceTest, AFailedBatchLeavesNoTraceOfAnyOfItsEvents) {
  upload("issuer-1");
  upload("issuer-2");
  const std::vector<EntityEvent> batch{deleted("evt-1", "issuer-1"), deleted("evt-2", "issuer-2")};
  std::vector<const EntityEvent*> events{&batch[0], &batch[1]};
  faulty_->fail_outbox = true;
  EXPECT_THROW(service_->handle_entity_events(events), store::StoreUnavailable);
  faulty_->fail_outbox = false;
  EXPECT_EQ(outbox("issuer-1").size(), 2u);
  auto retry = service_->handle_entity_events(events);
  EXPECT_EQ(retry[0].outcome, EventOutcome::processed);
  EXPECT_EQ(retry[1].documents_changed, 1u);
}

TEST_P(DocumentServiceTest, IdenticalContentSharesOneBlob) {
  upload("issuer-1", "same");
  upload("issuer-2", "same");
  EXPECT_EQ(blob_count(), 1u);
}

EntityEvent with_action(EntityEvent e, const char* action) {
  e.action = action;
  return e;
}

TEST_P(DocumentServiceTest, AnUploadForADeletedEntityIsRefusedAndWritesNothing) {
  upload("issuer-1");
  ASSERT_EQ(service_->handle_entity_event(deleted("evt-1", "issuer-1")).outcome, EventOutcome::processed);
  auto refused = service_->create(DocumentUpload{"issuer-1", "issuer", std::nullopt, "late.pdf", "application/pdf"},
                                  "late content", Actor::anonymous());
  ASSERT_FALSE(refused);
  ASSERT_TRUE(refused.refusal());
  EXPECT_EQ(*refused.refusal(), UploadRefusal::entity_deleted);
  EXPECT_EQ(refused.error().field, "entity_id");
  EXPECT_EQ(outbox("issuer-1").size(), 4u);  // the first upload's two and its archive's two
  EXPECT_EQ(blob_count(), 1u);
  // Another entity, and the same id under another type, are not affected.
  EXPECT_TRUE(service_->create(DocumentUpload{"issuer-1", "investor", std::nullopt, "x", "text/plain"}, "x",
                               Actor::anonymous()));
}

TEST_P(DocumentServiceTest, DeletionIsFinalLaterSuspensionsAndReinstatementsChangeNothing) {
  const auto doc = upload("issuer-1");
  ASSERT_EQ(service_->handle_entity_event(deleted("evt-1", "issuer-1")).outcome, EventOutcome::processed);
  const auto events_after_delete = outbox("issuer-1").size();
  auto suspended = service_->handle_entity_event(with_action(deleted("evt-2", "issuer-1"), "entity.suspended"));
  EXPECT_EQ(suspended.outcome, EventOutcome::entity_deleted);
  auto reinstated = service_->handle_entity_event(with_action(deleted("evt-3", "issuer-1"), "entity.reinstated"));
  EXPECT_EQ(reinstated.outcome, EventOutcome::entity_deleted);
  EXPECT_EQ(outbox("issuer-1").size(), events_after_delete);
  auto stored = service_->get(*DocumentId::parse(doc.id));
  EXPECT_EQ(stored->status, DocumentStatus::archived);
  EXPECT_FALSE(stored->suspended_at);
  // Recorded, so a redelivery is a duplicate.
  EXPECT_EQ(service_->handle_entity_event(with_action(deleted("evt-2", "issuer-1"), "entity.suspended")).outcome,
            EventOutcome::duplicate);
  // Deleted within one batch, after a suspension: the suspension applies, a
  // later reinstatement in the same batch does not.
  upload("issuer-2");
  const auto s = with_action(deleted("evt-4", "issuer-2"), "entity.suspended");
  const auto d = deleted("evt-5", "issuer-2");
  const auto r = with_action(deleted("evt-6", "issuer-2"), "entity.reinstated");
  const EntityEvent* batch[] = {&s, &d, &r};
  auto results = service_->handle_entity_events(batch);
  EXPECT_EQ(results[0].outcome, EventOutcome::processed);
  EXPECT_EQ(results[1].outcome, EventOutcome::processed);
  EXPECT_EQ(results[2].outcome, EventOutcome::entity_deleted);
  EXPECT_EQ(results[1].documents_changed, 1u);
}

TEST_P(DocumentServiceTest, UploadsForASuspendedEntityAreRefusedUntilReinstated) {
  upload("issuer-1");
  ASSERT_EQ(service_->handle_entity_event(with_action(deleted("evt-1", "issuer-1"), "entity.suspended")).outcome,
            EventOutcome::processed);
  auto refused = service_->create(DocumentUpload{"issuer-1", "issuer", std::nullopt, "x", "text/plain"}, "x",
                                  Actor::anonymous());
  ASSERT_TRUE(refused.refusal());
  EXPECT_EQ(*refused.refusal(), UploadRefusal::entity_suspended);
  ASSERT_EQ(service_->handle_entity_event(with_action(deleted("evt-2", "issuer-1"), "entity.reinstated")).outcome,
            EventOutcome::processed);
  EXPECT_TRUE(service_->create(DocumentUpload{"issuer-1", "issuer", std::nullopt, "x", "text/plain"}, "x",
                               Actor::anonymous()));
}

TEST_P(DocumentServiceTest, TheCascadeOfAReplayTombstonesTheEntity) {
  upload("issuer-1");
  EXPECT_EQ(service_->cascade_archive_by_entity({"issuer-1", EntityType::issuer}, kReasonEntityDeleted, "evt-r").size(),
            1u);
  auto refused = service_->create(DocumentUpload{"issuer-1", "issuer", std::nullopt, "x", "text/plain"}, "x",
                                  Actor::anonymous());
  ASSERT_TRUE(refused.refusal());
  EXPECT_EQ(*refused.refusal(), UploadRefusal::entity_deleted);
}

TEST_P(DocumentServiceTest, AnIdempotencyKeyReplaysTheSameRequestAndRefusesAnother) {
  const DocumentUpload u{"issuer-1", "issuer", "prospectus", "p.pdf", "application/pdf"};
  const Actor user{std::string("user-1"), "user"};
  auto first = service_->create(u, "content", user, "key-1");
  ASSERT_TRUE(first);
  EXPECT_FALSE(first.replayed());
  // Quoted (a structured-field string) or not, the same key.
  auto again = service_->create(u, "content", user, "\"key-1\"");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(outbox("issuer-1").size(), 2u);

  auto other = service_->create(u, "other content", user, "key-1");
  ASSERT_TRUE(other.refusal());
  EXPECT_EQ(*other.refusal(), UploadRefusal::idempotency_key_reused);
  EXPECT_EQ(other.error().field, "Idempotency-Key");
  auto renamed = service_->create(DocumentUpload{"issuer-1", "issuer", "prospectus", "q.pdf", "application/pdf"},
                                  "content", user, "key-1");
  ASSERT_TRUE(renamed.refusal());

  // Keys are per caller.
  auto someone_else = service_->create(u, "content", Actor{std::string("user-2"), "user"}, "key-1");
  ASSERT_TRUE(someone_else);
  EXPECT_FALSE(someone_else.replayed());
  EXPECT_NE(someone_else->id, first->id);

  for (const std::string& bad : {std::string(), std::string(256, 'k'), std::string("tab\tkey"), std::string("\"\"")}) {
    auto refused = service_->create(u, "content", user, bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_FALSE(refused.refusal());
    EXPECT_EQ(refused.error().field, "Idempotency-Key");
  }

  // Past the retention the key is forgotten, and purged.
  clock_.advance(kDefaultIdempotencyRetention + std::chrono::minutes(1));
  auto later = service_->create(u, "content", user, "key-1");
  ASSERT_TRUE(later);
  EXPECT_FALSE(later.replayed());
  EXPECT_NE(later->id, first->id);
  EXPECT_EQ(store::write(store(), [&](store::Transaction& tx) {
              return tx.purge_idempotency_keys(clock_.now() - kDefaultIdempotencyRetention, 100);
            }),
            1u);  // user-2's; user-1's was replaced by the later upload
}

TEST_P(DocumentServiceTest, TwoRequestsWithOneKeyAtOnceCreateOneDocument) {
  const DocumentUpload u{"issuer-1", "issuer", "prospectus", "p.pdf", "application/pdf"};
  for (int round = 0; round < 5; ++round) {
    const std::string key = "concurrent-" + std::to_string(round);
    std::optional<CreateResult> a, b;
    std::thread other([&] { b.emplace(service_->create(u, "same", Actor::anonymous(), key)); });
    a.emplace(service_->create(u, "same", Actor::anonymous(), key));
    other.join();
    ASSERT_TRUE(*a);
    ASSERT_TRUE(*b);
    EXPECT_EQ((*a)->id, (*b)->id);
    EXPECT_NE(a->replayed(), b->replayed());
  }
  EXPECT_EQ(outbox("issuer-1").size(), 10u);
}

// Uploads committing while the entity's deletion is handled: each either
// commits first (and the cascade archives it, with its events) or sees the
// tombstone. Never an active document afterwards.
TEST_P(DocumentServiceTest, UploadsRacingTheDeletionNeverSurviveActive) {
  constexpr int kThreads = 3;
  constexpr int kPerThread = 30;
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> uploaders;
  for (int t = 0; t < kThreads; ++t) {
    uploaders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = service_->create(DocumentUpload{"issuer-race", "issuer", std::nullopt, "f.txt", "text/plain"},
                                  "race " + std::to_string(t) + "/" + std::to_string(i), Actor::anonymous());
        if (r) {
          ++created;
        } else {
          EXPECT_TRUE(r.refusal()) << r.error().field << " " << r.error().message;
          ++refused;
        }
      }
    });
  }
  // The deletion lands while uploads are still going.
  ASSERT_TRUE(docvault::testing::wait_until([&] { return created.load() >= 5; }));
  auto deletion = service_->handle_entity_event(deleted("evt-race", "issuer-race"));
  for (auto& u : uploaders) u.join();
  EXPECT_EQ(deletion.outcome, EventOutcome::processed);
  EXPECT_EQ(created + refused, kThreads * kPerThread);
  EXPECT_GT(refused.load(), 0) << "the deletion came after every upload: no race was tried";

  store::DocumentFilter active{{"issuer-race", EntityType::issuer}, DocumentStatus::active, 1000, std::nullopt};
  store::DocumentFilter archived{{"issuer-race", EntityType::issuer}, DocumentStatus::archived, 1000, std::nullopt};
  EXPECT_TRUE(store::read(store(), [&](store::Transaction& tx) { return tx.list_documents(active); }).empty());
  auto gone = store::read(store(), [&](store::Transaction& tx) { return tx.list_documents(archived); });
  EXPECT_EQ(gone.size(), static_cast<std::size_t>(created.load()));
  EXPECT_EQ(deletion.documents_changed, static_cast<std::size_t>(created.load()));
  // Every archived document has its two created and its two archived events.
  EXPECT_EQ(outbox("issuer-race").size(), 4u * static_cast<std::size_t>(created.load()));
}

INSTANTIATE_TEST_SUITE_P(Backends, DocumentServiceTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

}  // namespace
}  // namespace docvault::service
