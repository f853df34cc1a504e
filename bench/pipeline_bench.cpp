// The end-to-end benchmark behind scripts/bench: entity events published
// through SNS (or queued directly), consumed, archived and re-published by a
// real `docvault serve`, measured from outside. Never a timed test: it
// reports, it does not assert.
//
//   pipeline_bench --docvault BIN --backend postgresql|sqlite --scenario NAME [options] [--json FILE]
//
// Scenarios:
//   throughput  E entities x D documents, E entity.deleted events through SNS
//               (PublishBatch) into a running docvault; until every entity is
//               archived and (relay on) every outgoing event published. Also
//               measures the emulator's ceiling for the same traffic first.
//   latency     events published one at a time at --rate per second for
//               --seconds; publish -> archived and commit -> published.
//   large       one entity with D documents: the consumer's own time for it.
//   backlog     E messages queued before docvault starts; drain time, peak RSS.
//   idle        an empty queue for --seconds: CPU and ReceiveMessage calls.
//
// Needs AWS_ENDPOINT_URL (the local emulator) and, for postgresql,
// DOCVAULT_TEST_DATABASE_URL (a server it may create databases on).
// LOCAL_AWS_STATE_DIR, when set, locates the emulator's pid for its CPU time.
//
// --aws-proxy URL (bench/aws_delay_proxy.mjs in front of the emulator): docvault
// and the ceiling's client reach AWS through it (the proxy's delay is their
// round trip); the load generator and the setup still go straight to the
// emulator. The proxy's request counts while docvault runs are reported by
// API, per 1,000 events, with the proxy's CPU time.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "domain/uuid.h"
#include "store/store.h"

extern char** environ;

namespace {

using namespace docvault;
using Steady = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

double epoch_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json percentiles(std::vector<double> v) {
  if (v.empty()) return json{{"count", 0}};
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))]; };
  return json{{"count", v.size()}, {"p50", at(0.5)}, {"p95", at(0.95)}, {"p99", at(0.99)}, {"max", v.back()}};
}

// CPU seconds (user + system) and peak RSS (KiB) of a process, from /proc.
struct Usage {
  double cpu_seconds = 0;
  long rss_kib = 0;
  long peak_rss_kib = 0;
};

Usage usage_of(pid_t pid) {
  Usage u;
  if (pid <= 0) return u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  auto close = text.rfind(')');
  if (close == std::string::npos) return u;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  u.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) u.peak_rss_kib = std::stol(line.substr(6));
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::stol(line.substr(6));
  }
  return u;
}

// CPU seconds of every process named "postgres" (the benchmark's cluster).
double postgres_cpu_seconds() {
  double total = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string command;
    std::getline(comm, command);
    if (command == "postgres") total += usage_of(std::stoi(name)).cpu_seconds;
  }
  return total;
}

pid_t emulator_pid() {
  const char* state = std::getenv("LOCAL_AWS_STATE_DIR");
  if (!state) return -1;
  std::ifstream in(std::string(state) + "/fauxqs.pid");
  pid_t pid = -1;
  in >> pid;
  return pid;
}

// --- the database, read directly (both backends) ----------------------------

class Database {
 public:
  Database(const std::string& url, const std::string& sqlite_path) {
    if (!url.empty()) {
      pg_ = std::make_unique<pqxx::connection>(url);
    } else if (sqlite3_open_v2(sqlite_path.c_str(), &lite_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + sqlite_path);
    }
    if (lite_) sqlite3_busy_timeout(lite_, 5000);
  }
  ~Database() {
    if (lite_) sqlite3_close_v2(lite_);
  }
  bool postgres() const { return pg_ != nullptr; }

  // Every row's first column as a number.
  std::vector<double> numbers(const std::string& sql) {
    std::vector<double> out;
    if (pg_) {
      pqxx::nontransaction tx(*pg_);
      for (const auto& row : tx.exec(sql)) out.push_back(row[0].is_null() ? 0 : row[0].as<double>());
      return out;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(lite_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(lite_));
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(sqlite3_column_double(stmt, 0));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(lite_));
    return out;
  }
  // Rows of (text, number).
  std::vector<std::pair<std::string, double>> keyed_numbers(const std::string& sql) {
    std::vector<std::pair<std::string, double>> out;
    if (pg_) {
      pqxx::nontransaction tx(*pg_);
      for (const auto& row : tx.exec(sql)) out.emplace_back(row[0].as<std::string>(), row[1].as<double>());
      return out;
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(lite_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(lite_));
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), sqlite3_column_double(stmt, 1));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  double number(const std::string& sql) {
    auto v = numbers(sql);
    return v.empty() ? 0 : v.front();
  }
  // Milliseconds since the epoch of a timestamp column, as SQL.
  std::string epoch_ms_of(const std::string& column) const {
    return pg_ ? "extract(epoch from " + column + ") * 1000"
               : "(julianday(" + column + ") - 2440587.5) * 86400000.0";
  }

 private:
  std::unique_ptr<pqxx::connection> pg_;
  sqlite3* lite_ = nullptr;
};

// --- docvault, as a child process -------------------------------------------

pid_t spawn(const std::string& program, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env, const std::string& log) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    auto eq = s.find('=');
    if (eq != std::string::npos) merged[s.substr(0, eq)] = s.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings, argv_strings{program};
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  for (auto& s : argv_strings) argv.push_back(s.data());
  envp.push_back(nullptr);
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) {
    throw std::runtime_error("cannot start " + program);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

class Docvault {
 public:
  Docvault(const std::string& bin, std::map<std::string, std::string> env, const std::string& log) : log_(log) {
    port_ = 20000 + static_cast<int>(std::random_device{}() % 20000);
    env["DOCVAULT_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(port_);
    pid_ = spawn(bin, {"serve"}, env, log);
    httplib::Client client("127.0.0.1", port_);
    auto start = Steady::now();
    while (seconds_since(start) < 30) {
      if (auto res = client.Get("/readyz"); res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("docvault did not become ready; see " + log);
  }
  ~Docvault() { stop(); }

  Usage usage() const { return usage_of(pid_); }

  double metric(const std::string& name) const {
    httplib::Client client("127.0.0.1", port_);
    auto res = client.Get("/metrics");
    if (!res) throw std::runtime_error("cannot scrape /metrics");
    std::istringstream lines(res->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return 0;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string log() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

 private:
  std::string log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// --- the AWS side -------------------------------------------------------------

struct Topology {
  std::string entity_topic, entity_queue, audit_topic, audit_sink, document_events;
};

Topology make_topology(const aws::SqsClient& sqs, const aws::SnsClient& sns, const std::string& name) {
  const std::vector<std::string> arn{"QueueArn"};
  Topology t;
  t.entity_topic = sns.create_topic(name + "-entities");
  t.entity_queue = sqs.create_queue(name + "-entities", {{"VisibilityTimeout", "60"}});
  sns.subscribe(t.entity_topic, "sqs", sqs.get_queue_attributes(t.entity_queue, arn).at("QueueArn"));
  t.audit_topic = sns.create_topic(name + "-audit");
  t.audit_sink = sqs.create_queue(name + "-audit-sink");
  sns.subscribe(t.audit_topic, "sqs", sqs.get_queue_attributes(t.audit_sink, arn).at("QueueArn"),
                {{"RawMessageDelivery", "true"}});
  t.document_events = sqs.create_queue(name + "-document-events");
  return t;
}

std::string entity_id(int i) { return "entity-" + std::to_string(i); }

std::string event_json(const std::string& id, const std::string& entity) {
  return json{{"event_id", id}, {"source", "bench"}, {"action", "entity.deleted"}, {"entity_id", entity},
              {"entity_type", "issuer"}}
      .dump();
}

std::string event_id(const std::string& run, int i) { return run + "-evt-" + std::to_string(i); }

// Publishes one entity.deleted per entity with PublishBatch.
void publish_all(const aws::SnsClient& sns, const std::string& topic, int entities, const std::string& run) {
  for (int begin = 0; begin < entities; begin += 10) {
    std::vector<aws::SnsMessage> batch;
    for (int i = begin; i < std::min(entities, begin + 10); ++i) {
      batch.push_back({event_json(event_id(run, i), entity_id(i)), "", {}, "", ""});
    }
    sns.publish_batch(topic, batch);
  }
}

// The emulator's own ceiling for the same traffic, on a topology of its own:
// a client that receives the entity events, publishes two events per
// document in batches of ten (as the relay does), deletes, and nothing else.
//
// `lanes` such clients run at once (one thread each): through a delay proxy
// one lane waits on every round trip in turn, so the ceiling needs as many
// requests in flight as the delay calls for (Little's law). Setup and load go
// through `direct`, the measured client's calls through `measured`.
json emulator_ceiling(const aws::SqsClient& direct_sqs, const aws::SnsClient& direct_sns, const aws::SqsClient& sqs,
                      const aws::SnsClient& sns, int entities, int documents, int lanes, const std::string& run) {
  auto t = make_topology(direct_sqs, direct_sns, run + "-ceiling");
  publish_all(direct_sns, t.entity_topic, entities, run + "-ceiling");
  auto attributes = [](const std::string& kind) {
    return aws::MessageAttributes{{kind, {"String", "document.archived", ""}},
                                  {"entity_type", {"String", "issuer", ""}},
                                  {"event_id", {"String", uuid_v4(), ""}}};
  };
  const Usage emulator_before = usage_of(emulator_pid());
  const auto start = Steady::now();
  std::atomic<int> done = 0;
  std::atomic<std::size_t> failed = 0, published = 0;
  std::mutex finished_mutex;
  double seconds = 0;  // when the last event's delete returned
  auto lane = [&] {
    aws::ReceiveMessageRequest request;
    request.queue_url = t.entity_queue;
    request.max_messages = 10;
    request.wait_time_seconds = 1;
    std::vector<aws::SnsMessage> audit;
    std::vector<aws::OutgoingSqsMessage> doc;
    auto flush = [&] {
      if (!audit.empty()) failed += sns.publish_batch(t.audit_topic, audit).failed.size();
      if (!doc.empty()) failed += sqs.send_message_batch(t.document_events, doc).failed.size();
      published += audit.size() + doc.size();
      audit.clear();
      doc.clear();
    };
    while (done < entities && seconds_since(start) < 600) {
      auto messages = sqs.receive_messages(request);
      std::vector<std::string> handles;
      for (const auto& m : messages) {
        for (int d = 0; d < documents; ++d) {
          // docvault's sizes and attributes: ~410 and ~215 bytes, three String attributes each.
          audit.push_back({std::string(410, 'a'), "", attributes("action"), "", ""});
          doc.push_back({std::string(215, 'd'), attributes("event_type"), std::nullopt, "", "", ""});
          if (audit.size() == 10) flush();
        }
        handles.push_back(m.receipt_handle);
      }
      flush();
      if (!handles.empty()) sqs.delete_message_batch(t.entity_queue, handles);
      if (done.fetch_add(static_cast<int>(messages.size())) + static_cast<int>(messages.size()) >= entities &&
          !messages.empty()) {
        std::lock_guard lock(finished_mutex);
        if (seconds == 0) seconds = seconds_since(start);
      }
    }
  };
  std::vector<std::jthread> threads;
  for (int i = 0; i < lanes; ++i) threads.emplace_back(lane);
  threads.clear();  // joins
  if (seconds == 0) seconds = seconds_since(start);
  const Usage emulator_after = usage_of(emulator_pid());
  const std::vector<std::string> depth{"ApproximateNumberOfMessages"};
  return {{"events_per_second", done / seconds},
          {"emulator_cpu_seconds_per_1000_events",
           (emulator_after.cpu_seconds - emulator_before.cpu_seconds) / std::max(done.load(), 1) * 1000},
          {"seconds", seconds},
          {"events", done.load()},
          {"lanes", lanes},
          {"messages_published", published.load()},
          {"failed", failed.load()},
          {"audit_sink_depth", direct_sqs.get_queue_attributes(t.audit_sink, depth).at("ApproximateNumberOfMessages")},
          {"document_events_depth",
           direct_sqs.get_queue_attributes(t.document_events, depth).at("ApproximateNumberOfMessages")}};
}

// --- storage -----------------------------------------------------------------

struct Storage {
  std::string database_url;  // empty: SQLite
  std::string data_dir;
  std::string sqlite_path() const { return data_dir + "/docvault.sqlite3"; }
};

Storage make_storage(const std::string& backend, const std::string& run) {
  Storage s;
  s.data_dir = "/tmp/" + run;
  std::filesystem::create_directories(s.data_dir);
  if (backend == "postgresql") {
    const char* server = std::getenv("DOCVAULT_TEST_DATABASE_URL");
    if (!server) throw std::runtime_error("DOCVAULT_TEST_DATABASE_URL is not set");
    std::string name = "bench_" + std::to_string(std::random_device{}());
    {
      pqxx::connection admin(server);
      pqxx::nontransaction tx(admin);
      tx.exec0("CREATE DATABASE " + name);
    }
    std::string url(server);
    s.database_url = url.substr(0, url.rfind('/')) + "/" + name;
  }
  return s;
}

// E entities x D documents, written directly (not measured).
void seed(const Storage& storage, int entities, int documents) {
  auto store = store::open_store({storage.database_url, storage.sqlite_path(), 2});
  store->migrate();
  const auto start = Steady::now();
  const auto now = SystemClock().now();
  constexpr int kRowsPerTransaction = 2000;
  long total = static_cast<long>(entities) * documents;
  for (long begin = 0; begin < total; begin += kRowsPerTransaction) {
    store::write(*store, [&](store::Transaction& tx) {
      for (long n = begin; n < std::min(total, begin + kRowsPerTransaction); ++n) {
        Document doc;
        doc.id = uuid_v4();
        doc.entity = EntityRef{entity_id(static_cast<int>(n / documents)), EntityType::issuer};
        doc.document_type = "general";
        doc.filename = "f.pdf";
        doc.content_type = "application/pdf";
        doc.size_bytes = 1;
        doc.sha256 = std::string(64, 'b');
        doc.created_at = doc.updated_at = now;
        tx.insert_document(doc);
      }
    });
  }
  std::cerr << "seeded " << entities << " x " << documents << " documents in " << seconds_since(start) << " s\n";
}

bool wait_for(const std::function<bool()>& done, double seconds) {
  const auto start = Steady::now();
  while (seconds_since(start) < seconds) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

struct Options {
  std::string docvault_bin, backend = "postgresql", scenario = "throughput", relay = "on", json_out, aws_proxy;
  int entities = 1000, documents = 5, concurrency = 4, max_messages = 10, ceiling_lanes = 0;
  double rate = 100, seconds = 30;
};

std::map<std::string, std::string> docvault_env(const Options& o, const Storage& s, const Topology& t,
                                                bool relay) {
  std::map<std::string, std::string> env{{"DATABASE_URL", s.database_url},
          {"DOCVAULT_DATA_DIR", s.data_dir},
          {"DOCVAULT_AUTH", "disabled"},
          {"LOG_LEVEL", o.scenario == "large" ? "info" : "warn"},
          {"DOCUMENT_VAULT_SQS_URL", t.entity_queue},
          {"DOCUMENT_CONSUMER_MAX_MESSAGES", std::to_string(o.max_messages)},
          {"DOCUMENT_CONSUMER_CONCURRENCY", std::to_string(o.concurrency)},
          {"DOCVAULT_OUTBOX_RELAY_ENABLED", relay ? "true" : "false"},
          {"AUDIT_SNS_TOPIC_ARN", t.audit_topic},
          {"DOCUMENT_EVENTS_SQS_URL", t.document_events}};
  // Every service's calls through the proxy (an AWS_ENDPOINT_URL_<SERVICE> would win over it).
  if (!o.aws_proxy.empty()) {
    env["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL_SQS"] = env["AWS_ENDPOINT_URL_SNS"] = o.aws_proxy;
    env["AWS_ENDPOINT_URL_S3"] = o.aws_proxy;
  }
  return env;
}

// The delay proxy's state (GET /__counts): {"delay_ms", "requests": {api: n}, "cpu_seconds", "pid"}.
json proxy_counts(const std::string& proxy) {
  httplib::Client client(proxy);
  auto res = client.Get("/__counts");
  if (!res || res->status != 200) throw std::runtime_error("cannot read " + proxy + "/__counts");
  return json::parse(res->body);
}

// What the proxy saw between two snapshots, per 1,000 events.
json proxy_delta(const json& before, const json& after, double events) {
  json requests = json::object(), per_1000 = json::object();
  double total = 0;
  for (const auto& [api, n] : after["requests"].items()) {
    const double d = n.get<double>() - before["requests"].value(api, 0.0);
    if (d <= 0) continue;
    requests[api] = d;
    per_1000[api] = d / events * 1000;
    total += d;
  }
  return {{"delay_ms", after["delay_ms"]},
          {"requests", requests},
          {"requests_per_1000_events", per_1000},
          {"total_requests_per_1000_events", total / events * 1000},
          {"proxy_cpu_seconds_per_1000_events",
           (after["cpu_seconds"].get<double>() - before["cpu_seconds"].get<double>()) / events * 1000}};
}

// Clients whose calls go to `endpoint` (the proxy), everything else as configured.
aws::ServiceClientOptions through(const std::string& endpoint) {
  aws::ServiceClientOptions options;
  auto process = aws::process_environment();
  options.environment = [process, endpoint](std::string_view name) -> std::optional<std::string> {
    if (name == "AWS_ENDPOINT_URL" || name.starts_with("AWS_ENDPOINT_URL_")) return endpoint;
    return process(name);
  };
  return options;
}

// Publish -> archived (ms), per event, from the processed_events rows: their
// time is taken when the transaction starts, so the commit is not included
// (publish_to_published includes it).
std::vector<double> archive_latencies(Database& db, const std::map<std::string, double>& sent_ms) {
  std::vector<double> out;
  for (const auto& [id, at] : db.keyed_numbers("SELECT event_id, " + db.epoch_ms_of("created_at") +
                                               " FROM processed_events")) {
    if (auto it = sent_ms.find(id); it != sent_ms.end()) out.push_back(at - it->second);
  }
  return out;
}

json run_scenario(const Options& o) {
  aws::SqsClient sqs;
  aws::SnsClient sns;
  const std::string run = "bench-" + std::to_string(std::random_device{}());
  const bool relay = o.relay == "on";
  json report = {{"scenario", o.scenario}, {"backend", o.backend}, {"concurrency", o.concurrency},
                 {"max_messages", o.max_messages}, {"relay", o.relay}};
  const pid_t emulator = emulator_pid();
  const bool proxied = !o.aws_proxy.empty();
  const json proxy_start = proxied ? proxy_counts(o.aws_proxy) : json();
  const double delay_ms = proxied ? proxy_start["delay_ms"].get<double>() : 0;
  report["aws_delay_ms"] = delay_ms;
  report["aws_proxy"] = proxied;

  if (o.scenario == "throughput") {
    // One lane straight to the emulator (as before the proxy). Through the
    // proxy, four even at 0 ms (the proxy's own hop is a round trip of its
    // own) and enough to keep ~2,000 events/s worth of calls in flight at the
    // delay: 12 calls per 10 events, so 2.4 per ms of delay.
    const int lanes = o.ceiling_lanes > 0 ? o.ceiling_lanes
                      : proxied ? std::clamp(4 + static_cast<int>(std::ceil(delay_ms * 2.5)), 4, 128)
                                : 1;
    std::unique_ptr<aws::SqsClient> proxy_sqs = proxied ? std::make_unique<aws::SqsClient>(through(o.aws_proxy)) : nullptr;
    std::unique_ptr<aws::SnsClient> proxy_sns = proxied ? std::make_unique<aws::SnsClient>(through(o.aws_proxy)) : nullptr;
    report["emulator_ceiling"] = emulator_ceiling(sqs, sns, proxied ? *proxy_sqs : sqs, proxied ? *proxy_sns : sns,
                                                  o.entities, o.documents, lanes, run);
    if (proxied) {
      report["emulator_ceiling"]["aws"] =
          proxy_delta(proxy_start, proxy_counts(o.aws_proxy), report["emulator_ceiling"]["events"].get<double>());
    }
  }

  const int entities = o.scenario == "large" ? 1 : o.scenario == "idle" ? 0
                       : o.scenario == "latency" ? static_cast<int>(o.rate * o.seconds) : o.entities;
  report["entities"] = entities;
  report["documents_per_entity"] = o.documents;
  auto topology = make_topology(sqs, sns, run);
  auto storage = make_storage(o.backend, run);
  seed(storage, entities, o.documents);

  if (o.scenario == "backlog") {
    // Queued directly (raw delivery), before docvault starts.
    const auto start = Steady::now();
    for (int begin = 0; begin < entities; begin += 10) {
      std::vector<aws::OutgoingSqsMessage> batch;
      for (int i = begin; i < std::min(entities, begin + 10); ++i) {
        batch.push_back({event_json(event_id(run, i), entity_id(i)), {}, std::nullopt, "", "", ""});
      }
      sqs.send_message_batch(topology.entity_queue, batch);
    }
    std::cerr << "queued " << entities << " messages in " << seconds_since(start) << " s\n";
  }

  const json proxy_before = proxied ? proxy_counts(o.aws_proxy) : json();
  Docvault docvault(o.docvault_bin, docvault_env(o, storage, topology, relay), storage.data_dir + "/docvault.log");
  Database db(storage.database_url, storage.sqlite_path());
  const Usage before = docvault.usage();
  const Usage emulator_before = usage_of(emulator);
  const double postgres_before = postgres_cpu_seconds();
  report["rss_idle_kib"] = before.rss_kib;

  if (o.scenario == "idle") {
    const double receives = docvault.metric("docvault_consumer_receives_total");
    const auto start = Steady::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    const double elapsed = seconds_since(start);
    const Usage after = docvault.usage();
    report["seconds"] = elapsed;
    report["receive_calls"] = docvault.metric("docvault_consumer_receives_total") - receives;
    report["receive_wait_seconds"] = 20;
    report["cpu_percent"] = (after.cpu_seconds - before.cpu_seconds) / elapsed * 100;
    report["rss_kib"] = after.rss_kib;
    if (proxied) report["aws"] = proxy_delta(proxy_before, proxy_counts(o.aws_proxy), 1000);
    return report;
  }

  std::map<std::string, double> sent_ms;  // event_id -> when published (ms since the epoch)
  const auto start = Steady::now();
  if (o.scenario == "latency") {
    // One Publish per event, on a fixed schedule.
    const auto interval = std::chrono::duration<double>(1.0 / o.rate);
    for (int i = 0; i < entities; ++i) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Steady::duration>(interval * i));
      std::vector<aws::SnsMessage> one{{event_json(event_id(run, i), entity_id(i)), "", {}, "", ""}};
      sent_ms[event_id(run, i)] = epoch_ms();
      sns.publish_batch(topology.entity_topic, one);
    }
  } else if (o.scenario != "backlog") {
    const double at = epoch_ms();
    publish_all(sns, topology.entity_topic, entities, run);
    for (int i = 0; i < entities; ++i) sent_ms[event_id(run, i)] = at;
  }

  long peak_rss = 0;
  const bool archived = wait_for([&] {
    peak_rss = std::max(peak_rss, docvault.usage().rss_kib);
    return db.number("SELECT count(*) FROM processed_events") >= entities;
  }, 1800);
  const double archived_seconds = seconds_since(start);
  double published_seconds = archived_seconds;
  if (relay) {
    wait_for([&] {
      peak_rss = std::max(peak_rss, docvault.usage().rss_kib);
      // Every row was written with its event (archived above): none pending is all published.
      return db.number("SELECT count(*) FROM outbox_pending") == 0;
    }, 1800);
    published_seconds = seconds_since(start);
  }
  const Usage after = docvault.usage();
  const Usage emulator_after = usage_of(emulator);
  const double postgres_after = postgres_cpu_seconds();
  if (proxied) {
    report["aws"] = proxy_delta(proxy_before, proxy_counts(o.aws_proxy), std::max(entities, 1));
    if (!report["aws"]["requests"].contains("sqs.ReceiveMessage")) {
      std::cerr << "pipeline_bench: the proxy saw no ReceiveMessage of docvault's: its calls did not go through it\n";
    }
  }
  report["receive_calls"] = docvault.metric("docvault_consumer_receives_total");
  report["messages_per_receive"] =
      docvault.metric("docvault_consumer_messages_received_total") / std::max(1.0, report["receive_calls"].get<double>());
  report["complete"] = archived;
  report["seconds_to_archive_all"] = archived_seconds;
  report["entity_events_per_second"] = entities / archived_seconds;
  report["documents_archived_per_second"] = entities * o.documents / archived_seconds;
  if (relay) {
    report["seconds_to_publish_all"] = published_seconds;
    report["end_to_end_events_per_second"] = entities / published_seconds;
    report["commit_to_published_ms"] = percentiles(db.numbers(
        "SELECT " + db.epoch_ms_of("p.published_at") + " - " + db.epoch_ms_of("o.created_at") +
        " FROM outbox_events o JOIN outbox_published p ON p.seq = o.seq"));
  }
  const double events = std::max(entities, 1);
  report["cpu_seconds_per_1000_events"] = (after.cpu_seconds - before.cpu_seconds) / events * 1000;
  if (emulator > 0) {
    report["emulator_cpu_seconds_per_1000_events"] = (emulator_after.cpu_seconds - emulator_before.cpu_seconds) / events * 1000;
  }
  if (db.postgres()) report["postgres_cpu_seconds_per_1000_events"] = (postgres_after - postgres_before) / events * 1000;
  report["rss_peak_kib"] = std::max(peak_rss, after.rss_kib);
  report["rss_end_kib"] = after.rss_kib;
  if (!sent_ms.empty()) {
    report["publish_to_archived_ms"] = percentiles(archive_latencies(db, sent_ms));
    if (relay) {
      // Publish -> the entity's last outgoing event published (commit included).
      std::map<std::string, double> sent_by_entity;
      for (int i = 0; i < entities; ++i) sent_by_entity[entity_id(i)] = sent_ms[event_id(run, i)];
      std::vector<double> out;
      for (const auto& [entity, at] :
           db.keyed_numbers("SELECT o.ordering_key, max(" + db.epoch_ms_of("p.published_at") +
                            ") FROM outbox_events o JOIN outbox_published p ON p.seq = o.seq GROUP BY o.ordering_key")) {
        if (auto it = sent_by_entity.find(entity); it != sent_by_entity.end()) out.push_back(at - it->second);
      }
      report["publish_to_published_ms"] = percentiles(out);
    }
  }
  if (report.contains("emulator_ceiling") && relay) {
    report["fraction_of_ceiling"] =
        report["end_to_end_events_per_second"].get<double>() / report["emulator_ceiling"]["events_per_second"].get<double>();
  }
  if (o.scenario == "large") {
    // The consumer's own time: from receive to commit, as it logs it.
    const std::regex duration(R"re("documents_archived":(\d+),"duration_ms":(\d+))re");
    std::smatch m;
    std::string log;
    // The line follows the commit the loop above saw.
    wait_for([&] { return std::regex_search(log = docvault.log(), m, duration); }, 10);
    if (!m.empty()) {
      report["documents_archived"] = std::stol(m[1]);
      report["consumer_duration_ms"] = std::stol(m[2]);
    }
  }
  docvault.stop();
  std::filesystem::remove_all(storage.data_dir);
  return report;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"docvault end-to-end benchmark"};
  Options o;
  cli.add_option("--docvault", o.docvault_bin)->required();
  cli.add_option("--backend", o.backend)->check(CLI::IsMember({"postgresql", "sqlite"}));
  cli.add_option("--scenario", o.scenario)->check(CLI::IsMember({"throughput", "latency", "large", "backlog", "idle"}));
  cli.add_option("--entities", o.entities);
  cli.add_option("--documents", o.documents);
  cli.add_option("--concurrency", o.concurrency);
  cli.add_option("--max-messages", o.max_messages);
  cli.add_option("--relay", o.relay)->check(CLI::IsMember({"on", "off"}));
  cli.add_option("--rate", o.rate, "latency: events per second");
  cli.add_option("--seconds", o.seconds, "latency and idle: how long");
  cli.add_option("--json", o.json_out);
  cli.add_option("--aws-proxy", o.aws_proxy, "the delay proxy's URL: docvault's and the ceiling's AWS calls go through it");
  cli.add_option("--ceiling-lanes", o.ceiling_lanes, "the ceiling's clients at once (default: 1; through the proxy 4 + 2.5 per ms of delay)");
  CLI11_PARSE(cli, argc, argv);

  auto report = run_scenario(o);
  std::cout << report.dump(2) << std::endl;
  if (!o.json_out.empty()) std::ofstream(o.json_out) << report.dump(2) << "\n";
  return 0;
}
