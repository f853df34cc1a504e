// The consumer over a fake queue (tests/support/fake_message_source.h) and a
// real SQLite store in a temporary directory, on a fake clock: no emulator,
// no sleeps. FIFO hold-back, heartbeats, the circuit breaker's transitions,
// shutdown release, and leveldb-style crash points: the worker "dies" before
// its transaction commits, or after it committed but before the delete; a
// new consumer over the same store and queue picks the message up again once
// its visibility timeout passed, and the entity is archived exactly once.
#include <algorithm>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "blob/filesystem_blob_store.h"
#include "consumer/consumer.h"
#include "fake_clock.h"
#include "fake_message_source.h"
#include "forwarding_store.h"
#include "test_env.h"

namespace docvault::consumer {
namespace {

using namespace std::chrono_literals;
using docvault::testing::wait_until;

std::string event_body(const std::string& entity, const std::string& event_id = "") {
  return nlohmann::json{{"event_id", event_id.empty() ? "evt-" + entity : event_id},
                        {"source", "s"},
                        {"action", "entity.deleted"},
                        {"entity_id", entity},
                        {"entity_type", "issuer"}}
      .dump();
}

// The real store with faults on demand: a transaction that writes outbox
// rows for `failing_entity` fails; `hold` keeps every write waiting at its
// start; `crash` throws at the chosen point of the next write that handles
// an event.
class FaultyStore final : public docvault::testing::ForwardingStore {
 public:
  enum class Crash { none, before_commit, after_commit };
  using ForwardingStore::ForwardingStore;

  std::string failing_entity;
  std::atomic<bool> hold{false};
  std::atomic<int> holding{0};
  std::atomic<Crash> crash{Crash::none};

  void write(const std::function<void(store::Transaction&)>& work) override {
    ++holding;
    while (hold) std::this_thread::sleep_for(1ms);  // a transaction that takes as long as the test wants
    --holding;
    bool handled_event = false;
    ForwardingStore::write([&](store::Transaction& tx) {
      work(tx);
      handled_event = touched_processed_events_;
      touched_processed_events_ = false;
      if (handled_event && crash == Crash::before_commit) {
        crash = Crash::none;
        throw std::runtime_error("crash before commit");  // the transaction rolls back
      }
    });
    if (handled_event && crash == Crash::after_commit) {
      crash = Crash::none;
      throw std::runtime_error("crash after commit");  // committed; the worker never learns it
    }
  }

 protected:
  std::unique_ptr<store::Transaction> wrap_transaction(store::Transaction& tx) override {
    struct Tx final : docvault::testing::ForwardingTransaction {
      Tx(store::Transaction& inner, FaultyStore& store) : ForwardingTransaction(inner), owner(store) {}
      void append_outbox(std::span<const OutboxMessage> m) override {
        if (!owner.failing_entity.empty() &&
            std::any_of(m.begin(), m.end(), [&](const OutboxMessage& o) { return o.ordering_key == owner.failing_entity; })) {
          throw store::StoreError("injected failure");
        }
        ForwardingTransaction::append_outbox(m);
      }
      std::vector<store::RecordOutcome> record_processed_events(std::span<const store::ProcessedEvent> e) override {
        owner.touched_processed_events_ = true;
        return ForwardingTransaction::record_processed_events(e);
      }
      FaultyStore& owner;
    };
    return std::make_unique<Tx>(tx, *this);
  }

 private:
  thread_local static inline bool touched_processed_events_ = false;
};

struct Harness {
  explicit Harness(std::vector<std::string> entities, bool fifo = false)
      : real(store::open_store({"", dir.path() / "db.sqlite3", 2})),
        store((real->migrate(), *real)),
        blobs(dir.path() / "blobs"),
        documents(store, blobs, clock),
        source(clock, fifo, 4s) {
    service::DocumentService seeding(*real, blobs, clock);
    for (const auto& entity : entities) {
      EXPECT_TRUE(seeding.create({entity, "issuer", std::nullopt, "f", "text/plain"}, entity, Actor::anonymous()));
    }
  }

  std::unique_ptr<DocumentVaultConsumer> consumer(int concurrency = 2, int max_messages = 10) {
    ConsumerOptions options;
    options.queue_url = "fake-queue";
    options.max_messages = max_messages;
    options.wait_time_seconds = 20;
    options.concurrency = concurrency;
    options.shutdown_timeout = 25s;
    return std::make_unique<DocumentVaultConsumer>(source, documents, clock, options, registry);
  }

  DocumentStatus status(const std::string& entity) {
    return documents.list({entity, "issuer", std::nullopt, std::nullopt, std::nullopt}).value().items.at(0).status;
  }
  std::size_t outbox_rows(const std::string& entity) {
    return store::read(*real, [&](store::Transaction& tx) { return tx.outbox_messages(entity); }).size();
  }
  std::size_t processed(const std::string& entity) {
    return store::read(*real, [&](store::Transaction& tx) {
             return tx.list_processed_events({entity, "issuer", std::nullopt, std::nullopt, 100});
           }).size();
  }
  static std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  }

  docvault::testing::TempDir dir;
  docvault::testing::FakeClock clock;
  std::unique_ptr<store::Store> real;
  FaultyStore store;
  blob::FilesystemBlobStore blobs;
  service::DocumentService documents;
  docvault::testing::FakeMessageSource source;
  metrics::Registry registry;
};

TEST(Consumer, ArchivesTheEntityAndDeletesTheMessage) {
  Harness h({"e1"});
  auto consumer = h.consumer();
  consumer->start();
  h.source.push("m1", event_body("e1"));
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == 1; }));
  consumer->stop();
  EXPECT_EQ(h.status("e1"), DocumentStatus::archived);
  EXPECT_EQ(h.outbox_rows("e1"), 2u + 2u);  // created (audit + event), then archived (audit + event)
  EXPECT_EQ(h.source.remaining(), 0u);
}

TEST(Consumer, TheEventsOfAMessageJoinItsAwsTraceHeadersTrace) {
  Harness h({"e1"});
  auto consumer = h.consumer();
  consumer->start();
  h.source.push("m1", event_body("e1"), "",
                {{"AWSTraceHeader", "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"}});
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == 1; }));
  consumer->stop();
  auto rows = store::read(*h.real, [](store::Transaction& tx) { return tx.outbox_messages("e1"); });
  ASSERT_EQ(rows.size(), 4u);  // created by the seeding (no trace), then archived
  for (std::size_t i = 2; i < rows.size(); ++i) {
    auto trace = parse_traceparent(nlohmann::json::parse(rows[i].attributes).value("traceparent", ""));
    ASSERT_TRUE(trace) << rows[i].attributes;
    EXPECT_EQ(trace->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_NE(trace->parent_id, "00f067aa0ba902b7");  // docvault's own span
  }
}

TEST(Consumer, AFailedFifoMessageHoldsBackTheRestOfItsGroupOnly) {
  Harness h({"a1", "a2", "a3", "b1", "b2"}, /*fifo=*/true);
  h.store.failing_entity = "a1";
  h.source.push("a1", event_body("a1"), "A");
  h.source.push("a2", event_body("a2"), "A");
  h.source.push("a3", event_body("a3"), "A");
  h.source.push("b1", event_body("b1"), "B");
  h.source.push("b2", event_body("b2"), "B");
  auto consumer = h.consumer(4);
  consumer->start();
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == 2 && h.source.released().size() == 2; }));
  consumer->stop();
  EXPECT_EQ(Harness::sorted(h.source.deleted()), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(Harness::sorted(h.source.released()), (std::vector<std::string>{"a2", "a3"}));
  EXPECT_EQ(h.status("a2"), DocumentStatus::active);
  EXPECT_EQ(h.status("b2"), DocumentStatus::archived);
}

// Entities e0 ... e<n-1>, one document each.
std::vector<std::string> entities(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("e" + std::to_string(i));
  return out;
}

TEST(Consumer, FarAwayWithABacklogSeveralReceivesAreInFlight) {
  const auto names = entities(60);
  Harness h(names);
  // Each receive takes 50 ms, and waits (at most 300 ms) for two others.
  h.source.on_receive([&] { h.clock.advance(50ms); });
  h.source.gather_receives(3, 300ms);
  for (const auto& e : names) h.source.push("m-" + e, event_body(e));
  auto consumer = h.consumer(4);
  consumer->start();
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == names.size(); }));
  consumer->stop();
  EXPECT_GE(h.source.max_concurrent_receives(), 3);
  for (const auto& e : names) EXPECT_EQ(h.status(e), DocumentStatus::archived) << e;
}

TEST(Consumer, WithoutABacklogOneReceiveIsInFlight) {
  const auto names = entities(6);
  Harness h(names);
  h.source.on_receive([&] { h.clock.advance(50ms); });
  h.source.gather_receives(3, 100ms);
  auto consumer = h.consumer(4);
  consumer->start();
  // A trickle: no receive comes back full.
  for (const auto& e : names) {
    h.source.push("m-" + e, event_body(e));
    ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == static_cast<std::size_t>(&e - &names[0] + 1); }));
  }
  consumer->stop();
  EXPECT_EQ(h.source.max_concurrent_receives(), 1);
}

TEST(Consumer, AMessageInProgressGetsVisibilityHeartbeats) {
  Harness h({"e1"});
  h.store.hold = true;
  auto consumer = h.consumer();
  consumer->start();
  h.source.push("m1", event_body("e1"));
  ASSERT_TRUE(wait_until([&] { return h.store.holding > 0; }));
  EXPECT_TRUE(h.source.heartbeats().empty());
  // Visibility 4 s: a heartbeat is due at half of it.
  h.clock.advance(2s);
  ASSERT_TRUE(wait_until([&] { return h.source.heartbeats().size() == 1; }));
  h.clock.advance(2s);
  ASSERT_TRUE(wait_until([&] { return h.source.heartbeats().size() == 2; }));
  h.store.hold = false;
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == 1; }));
  consumer->stop();
  EXPECT_EQ(h.status("e1"), DocumentStatus::archived);
}

TEST(Consumer, AFailedReceiveOpensTheBreakerWhichClosesAfterTheBackoff) {
  Harness h({"e1"});
  h.source.fail_receives(1);
  auto consumer = h.consumer();
  consumer->start();
  ASSERT_TRUE(wait_until([&] { return consumer->status().breaker == "open"; }));
  EXPECT_EQ(consumer->status().state, "paused");
  const int receives = h.source.receives();
  // While open (250 ms, then doubling up to a second), nothing is received.
  h.clock.advance(200ms);
  h.source.push("m1", event_body("e1"));
  EXPECT_EQ(h.source.receives(), receives);
  // After the backoff: a probe of the database, then a receive that succeeds.
  h.clock.advance(100ms);
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == 1; }));
  EXPECT_EQ(consumer->status().breaker, "closed");
  EXPECT_EQ(consumer->status().state, "running");
  // The probe was a short receive, one attempt of two seconds; then long polls again.
  const auto options = h.source.receive_options();
  ASSERT_GT(options.size(), static_cast<std::size_t>(receives));
  const auto& probe = options[static_cast<std::size_t>(receives)];
  EXPECT_EQ(probe.wait_time_seconds, 0);
  EXPECT_EQ(probe.limits.max_attempts, 1);
  EXPECT_EQ(probe.limits.timeout, 2000ms);
  ASSERT_TRUE(wait_until([&] { return h.source.receive_options().size() > static_cast<std::size_t>(receives) + 1; }));
  const auto after = h.source.receive_options()[static_cast<std::size_t>(receives) + 1];
  EXPECT_EQ(after.wait_time_seconds, 20);
  EXPECT_EQ(after.limits.max_attempts, 0);
  consumer->stop();
  EXPECT_EQ(consumer->status().state, "stopped");
}

TEST(Consumer, StopReleasesMessagesNotStartedAndFinishesTheOneInProgress) {
  Harness h({"e1"});
  h.store.hold = true;
  // Two events of one entity, received together: the second waits behind the first.
  h.source.push("m1", event_body("e1", "evt-1"));
  h.source.push("m2", event_body("e1", "evt-2"));
  auto consumer = h.consumer(/*concurrency=*/1);
  consumer->start();
  ASSERT_TRUE(wait_until([&] { return h.store.holding > 0; }));
  std::jthread stopping([&] { consumer->stop(); });
  ASSERT_TRUE(wait_until([&] { return h.source.released().size() == 1; }));
  EXPECT_EQ(h.source.released(), (std::vector<std::string>{"m2"}));
  h.store.hold = false;
  stopping.join();
  EXPECT_EQ(h.source.deleted(), (std::vector<std::string>{"m1"}));
  EXPECT_EQ(h.status("e1"), DocumentStatus::archived);
}

TEST(Consumer, AFailedMessageComesBackAfterABackoffThatGrowsAndItsLastReceiveIsRecorded) {
  Harness h({"e1"});
  h.store.failing_entity = "e1";     // every transaction of e1's event fails, for its own reason
  h.source.set_max_receive_count(3);  // the queue's redrive policy
  auto consumer = h.consumer();
  consumer->start();
  h.source.push("m1", event_body("e1"));
  auto delays = [&] {
    std::vector<int> out;
    for (const auto& [id, seconds] : h.source.visibility_changes()) {
      if (id == "m1") out.push_back(seconds);
    }
    return out;
  };
  auto rejected = [&] {
    return store::read(*h.real, [](store::Transaction& tx) { return tx.find_rejected_message("m1"); });
  };
  // Receive n comes back after 2 s * 2^(n-1), half of it random.
  ASSERT_TRUE(wait_until([&] { return delays().size() == 1; }));
  EXPECT_GE(delays()[0], 1);
  EXPECT_LE(delays()[0], 2);
  EXPECT_FALSE(rejected());
  h.clock.advance(2s);
  ASSERT_TRUE(wait_until([&] { return delays().size() == 2; }));
  EXPECT_GE(delays()[1], 2);
  EXPECT_LE(delays()[1], 4);
  EXPECT_FALSE(rejected());
  h.clock.advance(4s);
  ASSERT_TRUE(wait_until([&] { return delays().size() == 3; }));
  EXPECT_GE(delays()[2], 4);
  EXPECT_LE(delays()[2], 8);
  // The third receive was the last before the dead-letter queue: why it
  // failed is recorded where the operator looks.
  ASSERT_TRUE(wait_until([&] { return rejected().has_value(); }));
  consumer->stop();
  const auto record = *rejected();
  EXPECT_EQ(record.reason, "retries_exhausted");
  EXPECT_NE(record.detail.find("injected failure"), std::string::npos) << record.detail;
  EXPECT_EQ(record.receive_count, 3);
  EXPECT_EQ(record.body, event_body("e1"));
  // SQS's redrive policy moves it; docvault neither deletes nor copies it.
  EXPECT_TRUE(h.source.deleted().empty());
  EXPECT_TRUE(h.source.dead_lettered().empty());
  EXPECT_EQ(h.status("e1"), DocumentStatus::active);
}

TEST(Consumer, ADeleteThatFailsIsRetriedWhileTheReceiptHandleIsValid) {
  Harness h({"e1"});  // visibility timeout 4 s
  h.source.fail_deletes(true);
  auto consumer = h.consumer();
  consumer->start();
  h.source.push("m1", event_body("e1"));
  ASSERT_TRUE(wait_until([&] { return !h.source.delete_limits().empty(); }));
  EXPECT_EQ(h.status("e1"), DocumentStatus::archived);  // committed; only the delete fails
  // SQS unreachable for 2 of the message's 4 seconds: the delete keeps being
  // retried (200 ms doubling, half of it random, so the next try comes by
  // 3.6 s, before the message would turn visible).
  for (int step = 0; step < 10; ++step) {
    const auto calls = h.source.delete_limits().size();
    h.clock.advance(200ms);
    wait_until([&] { return h.source.delete_limits().size() > calls; }, 50ms);
  }
  EXPECT_GE(h.source.delete_limits().size(), 3u);
  EXPECT_TRUE(h.source.deleted().empty());
  h.source.fail_deletes(false);
  for (int step = 0; step < 18 && h.source.deleted().empty(); ++step) {
    h.clock.advance(100ms);
    wait_until([&] { return !h.source.deleted().empty(); }, 50ms);
  }
  ASSERT_EQ(h.source.deleted(), (std::vector<std::string>{"m1"}));
  consumer->stop();
  // No redelivery: the message was never received again, so no duplicate.
  EXPECT_EQ(h.registry.counter("docvault_consumer_duplicates_total", "").value(), 0);
  // Each call one short attempt: the acknowledger retries on its own schedule.
  for (const auto& limits : h.source.delete_limits()) {
    EXPECT_EQ(limits.max_attempts, 1);
    EXPECT_EQ(limits.timeout, 5000ms);
  }
}

// A crash at `point` while the first consumer handles the event; a second
// consumer ("after the restart") gets the message once its visibility
// timeout has passed.
void crash_and_restart(FaultyStore::Crash point) {
  Harness h({"e1"});
  h.store.crash = point;
  {
    auto first = h.consumer();
    first->start();
    h.source.push("m1", event_body("e1"));
    ASSERT_TRUE(wait_until([&] { return h.store.crash == FaultyStore::Crash::none; }));
    first->stop();  // the process is gone: nothing was deleted
  }
  EXPECT_TRUE(h.source.deleted().empty());
  EXPECT_EQ(h.status("e1"), point == FaultyStore::Crash::after_commit ? DocumentStatus::archived
                                                                       : DocumentStatus::active);
  auto second = h.consumer();
  second->start();
  h.clock.advance(5s);  // past the 4-second visibility timeout
  ASSERT_TRUE(wait_until([&] { return h.source.deleted().size() == 1; }));
  second->stop();
  EXPECT_EQ(h.status("e1"), DocumentStatus::archived);
  EXPECT_EQ(h.outbox_rows("e1"), 4u);  // archived once: one audit event and one document event
  EXPECT_EQ(h.processed("e1"), 1u);
}

TEST(ConsumerCrash, BeforeCommitTheRedeliveryArchivesOnce) { crash_and_restart(FaultyStore::Crash::before_commit); }

TEST(ConsumerCrash, AfterCommitBeforeDeleteTheRedeliveryIsADuplicate) {
  crash_and_restart(FaultyStore::Crash::after_commit);
}

}  // namespace
}  // namespace docvault::consumer
