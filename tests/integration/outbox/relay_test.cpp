// The relay in-process, against a real store and the local emulator, with
// time under the test's control: failures, retries, hold-backs, retention.
#include "outbox/relay.h"

#include <atomic>
#include <optional>
#include <random>

#include <gtest/gtest.h>

#include "backend_fixture.h"
#include "fake_clock.h"
#include "forwarding_store.h"
#include "domain/uuid.h"

namespace docvault::outbox {
namespace {

using docvault::testing::Backend;
using namespace std::chrono_literals;

// Starts at the real time; moves only when the test advances it.
class ManualClock final : public docvault::testing::FakeClock {
 public:
  ManualClock() { set_now(runtime::system_clock().now()); }
};

class RelayIntegrationTest : public docvault::testing::BackendTest {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::random_device random;
    name_ = "relay-it-" + std::to_string(random());
    topic_ = sns_.create_topic(name_);
    queue_ = sqs_.create_queue(name_);
  }

  void TearDown() override {
    try {
      if (!queue_.empty()) sqs_.delete_queue(queue_);
      if (!topic_.empty()) sns_.delete_topic(topic_);
    } catch (const std::exception&) {
    }
    BackendTest::TearDown();
  }

  OutboxRelay relay(const std::string& topic, std::size_t claim_size = RelayOptions{}.claim_size) {
    RelayOptions options;
    options.claim_size = claim_size;
    options.audit_topic_arn = topic;
    options.document_events_queue_url = queue_;
    options.retention = std::chrono::hours(1);
    return OutboxRelay(store(), sns_, sqs_, clock_, options, metrics_);
  }

  std::vector<OutboxMessage> events_for(const std::string& entity, int documents) {
    std::vector<OutboxMessage> out;
    for (int i = 0; i < documents; ++i) {
      Document d;
      d.id = uuid_v4();
      d.entity = EntityRef{entity, EntityType::token};
      d.created_at = d.updated_at = clock_.now();
      for (auto& m : document_change_events(d, DocumentChange{kActionDocumentArchived, kReasonEntityDeleted,
                                                              Actor::system(), clock_.now(), d.entity, "cause"})) {
        out.push_back(std::move(m));
      }
    }
    store::write(store(), [&](store::Transaction& tx) { tx.append_outbox(out); });
    return out;
  }

  // Every unpublished row, as a claim far in the future would see it (or,
  // given a time, what a claim then would take); the claim is rolled back,
  // so nothing changes.
  std::vector<store::OutboxRecord> unpublished(std::optional<Timestamp> at = std::nullopt) {
    struct Rollback {};
    auto later = at.value_or(clock_.now() + std::chrono::hours(24));
    std::vector<store::OutboxRecord> rows;
    try {
      store().write([&](store::Transaction& tx) {
        rows = tx.claim_outbox(1000, later, later);
        throw Rollback{};
      });
    } catch (const Rollback&) {
    }
    return rows;
  }

  double published(Destination d) {
    return metrics_.counter("docvault_outbox_events_published_total", "", {{"destination", std::string(to_string(d))}}).value();
  }
  double failures(Destination d) {
    return metrics_.counter("docvault_outbox_publish_failures_total", "", {{"destination", std::string(to_string(d))}}).value();
  }

  ManualClock clock_;
  metrics::Registry metrics_;
  aws::SqsClient sqs_;
  aws::SnsClient sns_;
  std::string name_, topic_, queue_;
};

TEST_P(RelayIntegrationTest, PublishesEverythingDueAndMarksIt) {
  events_for("token-1", 5);
  auto r = relay(topic_);
  EXPECT_EQ(r.publish_due(), 10u);
  EXPECT_EQ(published(Destination::sns) + published(Destination::sqs), 10);
  EXPECT_EQ(r.publish_due(), 0u);
  EXPECT_EQ(store::read(store(), [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending, 0u);
}

TEST_P(RelayIntegrationTest, AFailingDestinationKeepsItsRowsPendingAndHoldsBackTheirEntity) {
  events_for("token-1", 12);  // 12 audit events: two PublishBatch calls
  events_for("token-2", 1);
  // The audit topic does not exist: every SNS call fails; SQS works.
  auto r = relay(topic_ + "-missing");
  EXPECT_EQ(r.publish_due(), 26u);
  auto rows = unpublished();
  ASSERT_EQ(rows.size(), 13u);  // the audit events
  std::map<std::string, std::vector<int>> attempts;
  for (const auto& row : rows) {
    EXPECT_EQ(row.message.destination, Destination::sns);
    attempts[row.message.ordering_key].push_back(row.attempts);
  }
  // token-1's first batch was tried and failed; the rest of token-1 waited
  // behind it, untried. token-2, in the second call, was tried.
  EXPECT_EQ(attempts["token-1"], (std::vector<int>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(attempts["token-2"], (std::vector<int>{1}));
  EXPECT_EQ(failures(Destination::sns), 11);
  EXPECT_EQ(published(Destination::sqs), 13);

  // Their destination failed, not they: due again at once (the relay's
  // breaker paces such rounds), so they are tried again and fail again.
  EXPECT_EQ(r.publish_due(), 13u);
  EXPECT_EQ(unpublished().size(), 13u);
  // Fixed: a relay with the real topic publishes them at once, no backoff to wait out.
  auto fixed = relay(topic_);
  EXPECT_EQ(fixed.publish_due(), 13u);
  EXPECT_TRUE(unpublished().empty());
}

TEST_P(RelayIntegrationTest, ClaimsTheNextBatchWhilePublishingAndKeepsEachEntityInOrder) {
  events_for("token-a", 3);  // six rows
  events_for("token-b", 1);
  events_for("token-c", 1);
  auto r = relay(topic_, 4);
  auto keys_of = [](const std::vector<store::OutboxRecord>& rows) {
    std::vector<std::string> keys;
    for (const auto& row : rows) keys.push_back(row.message.ordering_key);
    return keys;
  };

  // A full batch (token-a's first four rows), and meanwhile the next one is
  // claimed: not token-a's later rows, held back behind the leased ones, but
  // token-b's and token-c's. Only token-a's are claimable now.
  EXPECT_EQ(r.publish_due(), 4u);
  EXPECT_EQ(unpublished().size(), 6u);
  EXPECT_EQ(keys_of(unpublished(clock_.now())), (std::vector<std::string>{"token-a", "token-a"}));
  // The batch claimed ahead goes out next; it was full, so token-a's rest is
  // claimed ahead in turn, and goes out last.
  EXPECT_EQ(r.publish_due(), 4u);
  EXPECT_TRUE(unpublished(clock_.now()).empty());
  EXPECT_EQ(r.publish_due(), 2u);
  EXPECT_EQ(r.publish_due(), 0u);
  EXPECT_EQ(published(Destination::sns) + published(Destination::sqs), 10);
  EXPECT_EQ(store::read(store(), [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending, 0u);
}

TEST_P(RelayIntegrationTest, RowsClaimedAheadAreReleasedWhenTheRelayStops) {
  events_for("token-a", 2);
  events_for("token-b", 2);
  auto r = relay(topic_, 4);
  EXPECT_EQ(r.publish_due(), 4u);  // token-a; token-b claimed ahead
  EXPECT_TRUE(unpublished(clock_.now()).empty());
  r.stop();
  // What the stopped relay had claimed ahead is due again at once, no
  // attempt counted.
  auto rows = unpublished(clock_.now());
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.message.ordering_key, "token-b");
    EXPECT_EQ(row.attempts, 0);
  }
}

TEST_P(RelayIntegrationTest, RowsClaimedAheadWhoseLeaseRanOutAreLeftToWhoeverHoldsThemNow) {
  events_for("token-a", 2);
  events_for("token-b", 2);
  auto r = relay(topic_, 4);
  EXPECT_EQ(r.publish_due(), 4u);  // token-a; token-b claimed ahead
  // The relay stalls past its lease; another relay takes token-b over.
  clock_.advance(RelayOptions{}.lease + 1s);
  auto other = store::write(store(), [&](store::Transaction& tx) {
    return tx.claim_outbox(10, clock_.now(), clock_.now() + RelayOptions{}.lease);
  });
  EXPECT_EQ(other.size(), 4u);
  r.stop();
  EXPECT_TRUE(unpublished(clock_.now()).empty());
  // Nor does the stalled relay publish them itself.
  EXPECT_EQ(r.publish_due(), 0u);
}

TEST_P(RelayIntegrationTest, CompactsTheQueueOfPendingRowsOnceEnoughWerePublished) {
  class CountingStore final : public docvault::testing::ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    void compact_outbox_queue() override {
      ForwardingStore::compact_outbox_queue();
      ++compactions;
    }
    std::atomic<int> compactions{0};
  };
  events_for("token-a", 3);  // six rows
  CountingStore counting(store());
  RelayOptions options;
  options.audit_topic_arn = topic_;
  options.document_events_queue_url = queue_;
  options.compact_after_rows = 6;
  options.compact_every = 0ms;
  OutboxRelay r(counting, sns_, sqs_, clock_, options, metrics_);
  r.start();
  EXPECT_TRUE(docvault::testing::wait_until([&] { return counting.compactions > 0; }, 10s));
  r.stop();
  EXPECT_EQ(counting.compactions, 1);  // not again: nothing was published since
  EXPECT_EQ(store::read(store(), [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending, 0u);
}

TEST_P(RelayIntegrationTest, RetentionDeletesOnlyOldPublishedRows) {
  events_for("token-1", 2);
  auto r = relay(topic_);
  r.publish_due();
  events_for("token-2", 1);  // stays unpublished
  clock_.advance(30min);
  EXPECT_EQ(r.purge_expired(), 0u);
  clock_.advance(31min);
  EXPECT_EQ(r.purge_expired(), 4u);
  EXPECT_EQ(unpublished().size(), 2u);
  EXPECT_EQ(store::read(store(), [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending, 2u);
  EXPECT_TRUE(store::read(store(), [](store::Transaction& tx) { return tx.outbox_messages("token-1"); }).empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, RelayIntegrationTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

}  // namespace
}  // namespace docvault::outbox
