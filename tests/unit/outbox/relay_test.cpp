// The relay over fake publishers (tests/support/fake_publisher.h) and a real
// SQLite store in a temporary directory, on a fake clock: no emulator, no
// sleeps. Publishing and marking, per-entry failures that hold back their
// entity and back off, the circuit breaker's transitions, and the
// leveldb-style crash point: the relay "dies" after publishing but before
// marking; a new relay publishes those rows again once their lease ran out,
// with the same event ids, and nothing is lost.
#include "outbox/relay.h"

#include <map>
#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

#include "domain/uuid.h"
#include "fake_clock.h"
#include "fake_publisher.h"
#include "forwarding_store.h"
#include "test_env.h"

namespace docvault::outbox {
namespace {

using namespace std::chrono_literals;
using docvault::testing::FakePublisher;
using docvault::testing::wait_until;

// The real store; the transaction that marks rows published can be made to
// fail once (the process died between publishing and marking), and claims
// can fail as if the database were down.
class CrashingStore final : public docvault::testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::atomic<bool> crash_before_mark{false};
  std::atomic<bool> database_down{false};

 protected:
  std::unique_ptr<store::Transaction> wrap_transaction(store::Transaction& tx) override {
    struct Tx final : docvault::testing::ForwardingTransaction {
      Tx(store::Transaction& inner, CrashingStore& store) : ForwardingTransaction(inner), owner(store) {}
      void mark_published(std::span<const std::int64_t> seqs, Timestamp at) override {
        if (owner.crash_before_mark.exchange(false)) throw std::runtime_error("crash after publish, before mark");
        ForwardingTransaction::mark_published(seqs, at);
      }
      std::vector<store::OutboxRecord> claim_outbox(std::size_t limit, Timestamp now, Timestamp lease_until) override {
        if (owner.database_down) throw store::StoreUnavailable("the database is down");
        return ForwardingTransaction::claim_outbox(limit, now, lease_until);
      }
      CrashingStore& owner;
    };
    return std::make_unique<Tx>(tx, *this);
  }
};

class RelayTest : public ::testing::Test {
 protected:
  RelayTest() : real_(store::open_store({"", dir_.path() / "db.sqlite3", 2})), store_((real_->migrate(), *real_)) {}

  std::unique_ptr<OutboxRelay> relay(std::size_t claim_size = 500) {
    RelayOptions options;
    options.audit_topic_arn = "arn:aws:sns:us-east-1:123456789012:audit";
    options.document_events_queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/events";
    options.claim_size = claim_size;
    options.poll_interval = 1ms;
    return std::make_unique<OutboxRelay>(store_, audit_, events_, clock_, options, metrics_);
  }

  // Two rows (an audit event and a document event) per document.
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
    store::write(*real_, [&](store::Transaction& tx) { tx.append_outbox(out); });
    return out;
  }

  std::size_t pending() {
    return store::read(*real_, [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending;
  }
  // Event id -> times published, over both publishers.
  std::map<std::string, int> published_ids() {
    std::map<std::string, int> ids;
    for (const auto* p : {&audit_, &events_}) {
      for (const auto& e : p->published()) ++ids[e.event_id];
    }
    return ids;
  }

  docvault::testing::TempDir dir_;
  docvault::testing::FakeClock clock_;
  std::unique_ptr<store::Store> real_;
  CrashingStore store_;
  FakePublisher audit_, events_;
  metrics::Registry metrics_;
};

TEST_F(RelayTest, PublishesEachRowToItsDestinationAndMarksIt) {
  auto rows = events_for("token-1", 3);
  auto r = relay();
  EXPECT_EQ(r->publish_due(), 6u);
  EXPECT_EQ(audit_.published().size(), 3u);
  EXPECT_EQ(events_.published().size(), 3u);
  for (const auto& e : audit_.published()) EXPECT_EQ(e.target, "arn:aws:sns:us-east-1:123456789012:audit");
  std::set<std::string> expected;
  for (const auto& m : rows) expected.insert(m.event_id);
  std::set<std::string> seen;
  for (const auto& [id, times] : published_ids()) {
    seen.insert(id);
    EXPECT_EQ(times, 1) << id;
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pending(), 0u);
  EXPECT_EQ(r->publish_due(), 0u);
}

TEST_F(RelayTest, AFailedEntryHoldsBackItsEntityAndIsRetriedAfterItsBackoff) {
  std::vector<std::string> audit_ids;  // token-1's audit rows, in order
  for (const auto& m : events_for("token-1", 11)) {
    if (m.destination == Destination::sns) audit_ids.push_back(m.event_id);
  }
  ASSERT_EQ(audit_ids.size(), 11u);  // two PublishBatch calls: ten, then one
  events_for("token-2", 1);
  audit_.fail_event(audit_ids[0]);
  auto r = relay();
  EXPECT_EQ(r->publish_due(), 24u);
  // The first call's other entries went; token-1's row in the second call
  // waited behind the failed one, untried; token-2 and the queue were not held.
  EXPECT_EQ(pending(), 2u);
  EXPECT_EQ(audit_.published().size(), 9u + 1u);
  EXPECT_EQ(events_.published().size(), 12u);
  // Not due again before the backoff (at least half of the 1 s base).
  clock_.advance(400ms);
  EXPECT_EQ(r->publish_due(), 0u);
  audit_.fail_event(audit_ids[0], false);
  clock_.advance(RelayOptions{}.retry_max);
  EXPECT_EQ(r->publish_due(), 2u);
  EXPECT_EQ(pending(), 0u);
  // In order: the row that failed, then the one held behind it.
  auto audit = audit_.published();
  ASSERT_EQ(audit.size(), 12u);
  EXPECT_EQ(audit[10].event_id, audit_ids[0]);
  EXPECT_EQ(audit[11].event_id, audit_ids[10]);
}

TEST_F(RelayTest, TheBreakerOpensWhileTheDatabaseIsDownAndClosesAfterItsBackoff) {
  events_for("token-1", 1);
  store_.database_down = true;
  auto r = relay();
  r->start();
  // Three failed rounds open it.
  ASSERT_TRUE(wait_until([&] { return r->status().breaker == "open"; }));
  EXPECT_EQ(r->status().state, "paused");
  // Stable codes only: the error's text ("the database is down") is the log's.
  EXPECT_EQ(r->status().last_failure, "database_unavailable");
  EXPECT_EQ(r->status().last_error, "unreachable");
  store_.database_down = false;
  // Open for 250 ms (fake): no round, so nothing is published.
  clock_.advance(200ms);
  EXPECT_EQ(pending(), 2u);
  // Then a probe round, which succeeds: closed, and the rows go out.
  clock_.advance(100ms);
  ASSERT_TRUE(wait_until([&] { return r->status().breaker == "closed" && pending() == 0; }));
  EXPECT_EQ(r->status().state, "running");
  EXPECT_EQ(published_ids().size(), 2u);
  r->stop();
  EXPECT_EQ(r->status().state, "stopped");
}

TEST_F(RelayTest, ADestinationThatRefusesEveryCallOpensTheBreakerAndItsHealClosesIt) {
  events_for("token-1", 2);
  events_for("token-2", 1);
  // A missing sns:Publish: every PublishBatch is refused, while SQS takes
  // every SendMessageBatch (those rounds are not successes for the breaker).
  audit_.fail_calls(1'000'000, 403, "AccessDenied");
  auto r = relay();
  r->start();
  ASSERT_TRUE(wait_until([&] { return r->status().breaker == "open"; }));
  EXPECT_EQ(r->status().state, "paused");
  // Stable codes only (readyz is anonymous): which dependency, what kind of error.
  EXPECT_EQ(r->status().last_failure, "publish_failing");
  EXPECT_EQ(r->status().last_error, "access_denied");
  EXPECT_EQ(audit_.published().size(), 0u);
  // Probes come at most a second apart, each call a single short attempt.
  const auto calls = audit_.calls();
  clock_.advance(1s);
  ASSERT_TRUE(wait_until([&] { return audit_.calls() > calls; }));
  ASSERT_TRUE(wait_until([&] { return r->status().breaker == "open"; }));  // the probe failed
  EXPECT_EQ(r->status().state, "paused");
  const auto probe = audit_.limits().back();
  EXPECT_EQ(probe.max_attempts, 1);
  EXPECT_EQ(probe.timeout, RelayOptions{}.probe_timeout);
  // Healed: the next probe publishes the rows at once (they did not back
  // off on their own: their destination failed, not they), and closes it.
  audit_.fail_calls(0);
  clock_.advance(1s);
  ASSERT_TRUE(wait_until([&] { return r->status().breaker == "closed" && pending() == 0; }));
  EXPECT_EQ(r->status().state, "running");
  EXPECT_EQ(audit_.published().size(), 3u);
  EXPECT_EQ(events_.published().size(), 3u);
  r->stop();
}

TEST_F(RelayTest, ABatchRefusedForItsContentBacksOffWithoutOpeningTheBreaker) {
  events_for("token-1", 1);
  // A 400 about what the batch carried: the rows' problem, not SNS's.
  audit_.fail_calls(1'000'000, 400, "InvalidParameter");
  auto r = relay();
  r->start();
  for (int round = 1; round <= 4; ++round) {
    ASSERT_TRUE(wait_until([&] { return audit_.calls() >= round; })) << round;
    EXPECT_EQ(r->status().breaker, "closed") << round;
    clock_.advance(RelayOptions{}.retry_max);  // the row's own backoff
  }
  EXPECT_EQ(r->status().state, "running");
  EXPECT_EQ(pending(), 1u);  // the document event went; the audit event waits
  r->stop();
}

TEST_F(RelayTest, CallsGoOutFullAndLanesFollowTheRoundTrip) {
  // Per destination and round: 30 entities of 5 rows, 15 calls of ten.
  auto batch = [&](int round) {
    for (int i = 0; i < 30; ++i) events_for("token-" + std::to_string(round) + "-" + std::to_string(i), 5);
  };
  auto& lanes = metrics_.gauge("docvault_outbox_lanes", "");
  batch(0);
  auto r = relay();
  EXPECT_EQ(r->publish_due(), 300u);
  EXPECT_EQ(lanes.value(), 2);  // on loopback (the fake answers at once): four calls in flight
  for (const auto* p : {&audit_, &events_}) {
    EXPECT_EQ(p->call_sizes(), std::vector<std::size_t>(15, 10));
    EXPECT_EQ(p->max_in_flight(), 2u);
  }
  // 50 ms away: within a few rounds (the floor moves up by 1/32 of the gap
  // per call), enough lanes for 500 calls a second per destination, and the
  // calls still go out full (whole entities packed into the lanes).
  audit_.on_publish([&] { clock_.advance(50ms); });
  events_.on_publish([&] { clock_.advance(50ms); });
  for (int round = 1; round <= 6; ++round) {
    batch(round);
    EXPECT_EQ(r->publish_due(), 300u);
  }
  EXPECT_GE(lanes.value(), 25);
  EXPECT_LE(lanes.value(), 32);
  for (const auto* p : {&audit_, &events_}) {
    EXPECT_EQ(p->call_sizes(), std::vector<std::size_t>(7 * 15, 10));
    // Every lane's call in flight at once, from the destination's one thread.
    EXPECT_EQ(p->max_in_flight(), 15u);
  }
  EXPECT_EQ(pending(), 0u);
  for (const auto& [id, times] : published_ids()) EXPECT_EQ(times, 1) << id;
}

TEST_F(RelayTest, CrashAfterPublishBeforeMarkPublishesAgainWithTheSameIds) {
  auto rows = events_for("token-1", 2);
  store_.crash_before_mark = true;
  {
    auto crashed = relay();
    EXPECT_THROW(crashed->publish_due(), std::runtime_error);  // published, never marked
  }
  EXPECT_EQ(published_ids().size(), rows.size());
  EXPECT_EQ(pending(), rows.size());
  // The restarted relay sees nothing due while the dead one's lease holds.
  auto restarted = relay();
  EXPECT_EQ(restarted->publish_due(), 0u);
  clock_.advance(RelayOptions{}.lease + 1s);
  EXPECT_EQ(restarted->publish_due(), rows.size());
  EXPECT_EQ(pending(), 0u);
  // At least once, with one id per event: each published twice, same ids.
  auto ids = published_ids();
  ASSERT_EQ(ids.size(), rows.size());
  for (const auto& m : rows) EXPECT_EQ(ids[m.event_id], 2) << m.event_id;
}

}  // namespace
}  // namespace docvault::outbox
