// Operations, black-box: /metrics moving as messages flow, /readyz, and the
// consumer's circuit breaker when PostgreSQL goes away and comes back.
#include <signal.h>

#include <cstdio>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "docvault_instance.h"
#include "domain/uuid.h"
#include "emulator_fixture.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::DocvaultInstance;
using docvault::testing::TestStorage;
using nlohmann::json;
using namespace std::chrono_literals;

std::string entity_deleted(const std::string& event_id, const std::string& entity_id) {
  return docvault::testing::entity_event_json(event_id, entity_id);
}

// The value of one sample in a Prometheus exposition, or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + series.size() + 2));
}

// Whether `text` has `number` as a whole number (a port), not as a part of
// another one (a fraction of seconds).
bool mentions_number(const std::string& text, const std::string& number) {
  return std::regex_search(text, std::regex("(^|[^0-9.])" + number + "([^0-9.]|$)"));
}

class Operations : public ::testing::Test {
 protected:
  void SetUp() override {
    DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
    name_ = docvault::testing::unique_name("ops-test");
    auto subscribed = docvault::testing::subscribed_queue(sqs_, sns_, name_, {{"VisibilityTimeout", "30"}});
    queue_url_ = subscribed.queue_url;
    topic_arn_ = subscribed.topic_arn;
  }
  void TearDown() override {
    if (docvault_ && HasFailure()) std::cerr << "--- docvault output ---\n" << docvault_->output();
    docvault_.reset();
    try {
      sqs_.delete_queue(queue_url_);
      sns_.delete_topic(topic_arn_);
    } catch (const std::exception&) {
    }
  }

  DocvaultInstance& start(TestStorage& storage, std::map<std::string, std::string> env = {}) {
    env.try_emplace("DOCUMENT_VAULT_SQS_URL", queue_url_);
    env.try_emplace("DOCUMENT_CONSUMER_WAIT_TIME", "1");
    env.try_emplace("DOCVAULT_AUTH", "disabled");
    docvault_.emplace(storage, dir_.path() / "docvault.log", env);
    EXPECT_TRUE(docvault_->ready()) << docvault_->output();
    EXPECT_TRUE(docvault_->wait_for_log("Document Vault consumer started as background task"));
    return *docvault_;
  }

  std::string get(const std::string& path, int* status = nullptr) {
    auto http = docvault_->client();
    auto res = http.Get(path);
    if (status) *status = res ? res->status : 0;
    return res ? res->body : "";
  }

  void publish(const std::string& message) { sns_.publish(topic_arn_, aws::SnsMessage{message, "", {}, "", ""}); }

  std::size_t visible() {
    const std::vector<std::string> names{"ApproximateNumberOfMessages"};
    return std::stoul(sqs_.get_queue_attributes(queue_url_, names).at("ApproximateNumberOfMessages"));
  }

  docvault::testing::TempDir dir_;
  aws::SqsClient sqs_;
  aws::SnsClient sns_;
  std::string name_, queue_url_, topic_arn_;
  std::optional<DocvaultInstance> docvault_;
};

TEST_F(Operations, MetricsMoveAsMessagesFlow) {
  TestStorage storage(Backend::sqlite, dir_.path() / "var");
  auto& docvault = start(storage);
  auto http = docvault.client();
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(docvault::testing::upload_document(http, "issuer-m", "issuer", "x" + std::to_string(i)).empty());
  }
  publish(entity_deleted("evt-m", "issuer-m"));
  publish(entity_deleted("evt-m", "issuer-m"));
  publish("not json");
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    auto m = get("/metrics");
    return sample(m, "docvault_consumer_messages_received_total") == 3 &&
           sample(m, "docvault_consumer_messages_rejected_total{reason=\"invalid_message\"}") == 1 &&
           sample(m, "docvault_consumer_duplicates_total") == 1;
  }, 15s)) << get("/metrics");
  auto m = get("/metrics");
  EXPECT_EQ(sample(m, "docvault_consumer_events_processed_total"), 1);
  EXPECT_EQ(sample(m, "docvault_documents_archived_total"), 2);
  EXPECT_EQ(sample(m, "docvault_consumer_circuit_open"), 0);
  EXPECT_GE(sample(m, "docvault_consumer_processing_seconds_count"), 2);
  EXPECT_EQ(sample(m, "docvault_http_requests_total{route=\"/v1/documents\",method=\"POST\",status=\"201\"}"), 2) << m;
  EXPECT_GE(sample(m, "docvault_http_request_duration_seconds_count{route=\"/v1/documents\"}"), 2);
  // The queue's depth is sampled by the poller (at start, then every 30 s).
  EXPECT_TRUE(docvault::testing::wait_until(
      [&] { return sample(get("/metrics"), "docvault_consumer_queue_messages{state=\"visible\"}") >= 0; }, 10s));
  EXPECT_GE(sample(m, "docvault_db_pool_connections{state=\"capacity\"}"), 1) << m;
  EXPECT_GE(sample(m, "docvault_db_pool_waits_total"), 0) << m;
  EXPECT_GE(sample(m, "docvault_consumer_seconds_since_last_poll"), 0);
  EXPECT_LT(sample(m, "docvault_consumer_seconds_since_last_poll"), 5);

  int status = 0;
  auto ready = json::parse(get("/readyz", &status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(ready["checks"]["database"]["status"], "up");
  EXPECT_EQ(ready["checks"]["consumer"]["state"], "running");
  EXPECT_EQ(ready["checks"]["consumer"]["circuit_breaker"], "closed");
  EXPECT_EQ(ready["checks"]["relay"]["state"], "not_started");
}

// /readyz is anonymous: when SQS cannot be reached, or refuses the queue, it
// names the dependency and the kind of error by stable codes, never the
// endpoint, the queue or the service's own text (those go to the log).
TEST_F(Operations, ReadinessReportsSqsFailuresByStableCodesOnly) {
  TestStorage storage(Backend::sqlite, dir_.path() / "var");
  const std::string closed_port = std::to_string(docvault::testing::free_port());  // nothing listens there
  const std::string nowhere = "http://127.0.0.1:" + closed_port;
  const std::string missing_queue = queue_url_ + "-missing";
  const std::string emulator_port = std::regex_replace(queue_url_, std::regex(R"(^[a-z]+://[^:/]+:?(\d*).*$)"), "$1");
  struct Case {
    std::string name;
    std::map<std::string, std::string> env;
    std::string error;          // the expected last_error
    std::string in_log;         // the detail, which the log keeps
  };
  const std::vector<Case> cases = {
      {"unreachable endpoint",
       {{"AWS_ENDPOINT_URL", nowhere}, {"AWS_ENDPOINT_URL_SQS", nowhere}, {"AWS_MAX_ATTEMPTS", "1"}},
       "network_error",
       closed_port},
      {"queue that does not exist",
       {{"DOCUMENT_VAULT_SQS_URL", missing_queue}, {"AWS_MAX_ATTEMPTS", "1"}},
       "not_found",
       "NonExistentQueue"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto& docvault = start(storage, c.env);
    int status = 0;
    std::string body;
    ASSERT_TRUE(docvault::testing::wait_until([&] {
      body = get("/readyz", &status);
      return status == 503 && json::parse(body)["checks"]["consumer"]["state"] == "paused";
    }, 30s)) << body << docvault.output();
    auto ready = json::parse(body);
    EXPECT_EQ(ready["status"], "not_ready");
    EXPECT_EQ(ready["checks"]["database"]["status"], "up");
    const auto& consumer = ready["checks"]["consumer"];
    EXPECT_EQ(consumer["circuit_breaker"], "open");
    EXPECT_EQ(consumer["last_failure"], "sqs_unavailable") << body;
    EXPECT_EQ(consumer["last_error"], c.error) << body;
    // Nothing but codes and numbers: no URL, host, port, queue name or AWS text.
    for (const std::string& secret : {std::string("127.0.0.1"), std::string("http"), name_, std::string("Queue"),
                                      std::string("Connection"), std::string("AWS")}) {
      EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
    }
    EXPECT_FALSE(mentions_number(body, closed_port)) << body;
    if (!emulator_port.empty()) {
      EXPECT_FALSE(mentions_number(body, emulator_port)) << body;
    }
    // The log keeps the detail.
    EXPECT_TRUE(docvault.wait_for_log(c.in_log)) << docvault.output();
    docvault_.reset();
  }
}

// A PostgreSQL cluster of the test's own, so it can be stopped without
// disturbing the other tests.
class PrivateCluster {
 public:
  explicit PrivateCluster(const std::filesystem::path& dir) : dir_(dir) {
    auto script = docvault::testing::source_dir() / "scripts/lib/postgres.sh";
    auto command = "bash -c 'source \"" + script.string() + "\" && pg_cluster_start \"" + dir_.string() +
                   "\" 2>/dev/null && echo \"$DOCVAULT_TEST_DATABASE_URL\"'";
    std::FILE* out = ::popen(command.c_str(), "r");
    char buf[512] = {};
    if (out && std::fgets(buf, sizeof(buf), out)) url_ = std::string(buf, std::strcspn(buf, "\n"));
    if (out) ::pclose(out);
    std::smatch m;
    if (std::regex_search(url_, m, std::regex(R"(:(\d+)/)"))) port_ = m[1];
  }
  ~PrivateCluster() {
    std::system(("bash -c 'source \"" + (docvault::testing::source_dir() / "scripts/lib/postgres.sh").string() +
                 "\" && pg_cluster_stop \"" + dir_.string() + "\"'")
                    .c_str());
  }
  const std::string& url() const { return url_; }
  bool stop() { return pg_ctl("-m fast stop") == 0; }
  bool start() {
    return pg_ctl("-o \"-p " + port_ + " -k " + dir_.string() + " -c listen_addresses=127.0.0.1\" -l " +
                  (dir_ / "server.log").string() + " start") == 0;
  }

 private:
  int pg_ctl(const std::string& args) {
    auto command = "runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D " + (dir_ / "data").string() +
                   " -w -t 30 " + args + " >/dev/null 2>&1";
    return std::system(command.c_str());
  }
  std::filesystem::path dir_;
  std::string url_, port_;
};

TEST_F(Operations, TheBreakerOpensWhilePostgresIsDownAndNothingIsLost) {
  DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");  // the machine can run PostgreSQL
  PrivateCluster cluster(dir_.path() / "pg");
  ASSERT_FALSE(cluster.url().empty());
  // A TestStorage on the private cluster: point the variable there for it.
  ::setenv("DOCVAULT_TEST_DATABASE_URL", cluster.url().c_str(), 1);
  TestStorage storage(Backend::postgresql, dir_.path() / "var");
  ::setenv("DOCVAULT_TEST_DATABASE_URL", url.c_str(), 1);
  ASSERT_TRUE(storage.available());
  auto& docvault = start(storage, {{"DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT", "5"}});
  auto http = docvault.client();
  for (const char* entity : {"p1", "p2", "p3"}) {
    ASSERT_FALSE(docvault::testing::upload_document(http, entity, "issuer", entity).empty());
  }

  ASSERT_TRUE(cluster.stop());
  publish(entity_deleted("evt-p1", "p1"));
  // The first message fails (the database is gone) and the breaker opens.
  ASSERT_TRUE(docvault.wait_for_log("Circuit breaker opened", 20s)) << docvault.output();
  int status = 0;
  const auto body = get("/readyz", &status);
  auto ready = json::parse(body);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(ready["checks"]["database"]["status"], "down");
  EXPECT_EQ(ready["checks"]["database"]["reason"], "unreachable");
  EXPECT_EQ(ready["checks"]["consumer"]["state"], "paused");
  EXPECT_EQ(ready["checks"]["consumer"]["last_failure"], "database_unavailable");
  EXPECT_EQ(ready["checks"]["consumer"]["last_error"], "unreachable");
  // The answer is anonymous: no host, port, user or database name, no driver text.
  const std::string database_url = storage.database_url();
  const std::string database_name = database_url.substr(database_url.rfind('/') + 1);
  const std::string port = std::regex_replace(database_url, std::regex(R"(^.*:(\d+)/.*$)"), "$1");
  ASSERT_FALSE(database_name.empty());
  for (const std::string& secret : {std::string("127.0.0.1"), std::string("@"), std::string("connect"),
                                    std::string("server"), database_name}) {
    EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
  }
  EXPECT_FALSE(mentions_number(body, port)) << body;
  EXPECT_EQ(sample(get("/metrics"), "docvault_consumer_circuit_open"), 1);

  // While open, nothing is pulled. A receive already in flight when the
  // breaker opened finishes first (its long poll is 1 s): once no receive
  // has returned for longer than that, none is in flight, and new events
  // wait in the queue.
  auto since_last_poll = [&] { return sample(get("/metrics"), "docvault_consumer_seconds_since_last_poll"); };
  ASSERT_TRUE(docvault::testing::wait_until([&] { return since_last_poll() > 1.5; }, 10s));
  const double received_before = sample(get("/metrics"), "docvault_consumer_messages_received_total");
  publish(entity_deleted("evt-p2", "p2"));
  publish(entity_deleted("evt-p3", "p3"));
  ASSERT_TRUE(docvault::testing::wait_until([&] { return visible() >= 2; }, 10s));
  // The window in which a receive would have happened: two more seconds
  // without one returning (a poll would reset the gauge).
  const double quiet_since = since_last_poll();
  ASSERT_TRUE(docvault::testing::wait_until([&] { return since_last_poll() > quiet_since + 2; }, 10s));
  EXPECT_EQ(sample(get("/metrics"), "docvault_consumer_messages_received_total"), received_before);
  EXPECT_GE(visible(), 2u);

  ASSERT_TRUE(cluster.start());
  ASSERT_TRUE(docvault.wait_for_log("Circuit breaker closed", 60s)) << docvault.output();
  // Nothing lost: p2 and p3 now, p1 once its message comes back.
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    std::size_t archived = 0;
    for (const char* entity : {"p1", "p2", "p3"}) {
      auto res = http.Get(std::string("/v1/documents?entity_id=") + entity + "&entity_type=issuer&status=archived");
      archived += res && res->status == 200 ? json::parse(res->body)["items"].size() : 0;
    }
    return archived == 3;
  }, 60s)) << docvault.output();
  auto after = json::parse(get("/readyz", &status));
  EXPECT_EQ(status, 200) << after.dump();
}

}  // namespace
}  // namespace docvault
