// The end-to-end benchmark behind scripts/bench: entity deletions published
// through SNS, consumed, archived and re-published by a real `docvault serve`,
// measured from outside. Never a timed test: it reports, it does not assert.
//
//   pipeline_bench --docvault BIN --backend postgresql|sqlite --entities E --documents D
//                  [--concurrency N] [--max-messages N] [--relay on|off] [--json FILE]
//
// Needs AWS_ENDPOINT_URL (the local emulator) and, for postgresql,
// DOCVAULT_TEST_DATABASE_URL (a server it may create databases on).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
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

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// CPU seconds (user + system) and peak RSS (KiB) of a process, from /proc.
std::pair<double, long> usage_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  auto close = text.rfind(')');
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stol(f);
    if (i == 15) stime = std::stol(f);
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  long hwm = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stol(line.substr(6));
  }
  return {static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK)), hwm};
}

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

std::string event_json(const std::string& id, const std::string& entity) {
  return json{{"event_id", id}, {"source", "bench"}, {"action", "entity.deleted"}, {"entity_id", entity},
              {"entity_type", "issuer"}}
      .dump();
}

// Publishes one entity.deleted per entity with PublishBatch; returns publish times by event_id.
std::map<std::string, Steady::time_point> publish_all(const aws::SnsClient& sns, const std::string& topic,
                                                     int entities, const std::string& run) {
  std::map<std::string, Steady::time_point> sent;
  for (int begin = 0; begin < entities; begin += 10) {
    std::vector<aws::SnsMessage> batch;
    std::vector<std::string> ids;
    for (int i = begin; i < std::min(entities, begin + 10); ++i) {
      ids.push_back(run + "-evt-" + std::to_string(i));
      batch.push_back({event_json(ids.back(), "entity-" + std::to_string(i)), "", {}, "", ""});
    }
    auto now = Steady::now();
    sns.publish_batch(topic, batch);
    for (const auto& id : ids) sent[id] = now;
  }
  return sent;
}

// The emulator's own ceiling for the same traffic: receive the entity events,
// publish two events per document, delete; nothing else.
double emulator_ceiling(const aws::SqsClient& sqs, const aws::SnsClient& sns, const Topology& t, int entities,
                        int documents, const std::string& run) {
  auto start = Steady::now();
  publish_all(sns, t.entity_topic, entities, run + "-ceiling");
  int done = 0;
  aws::ReceiveMessageRequest request;
  request.queue_url = t.entity_queue;
  request.max_messages = 10;
  request.wait_time_seconds = 1;
  while (done < entities && seconds_since(start) < 600) {
    auto messages = sqs.receive_messages(request);
    std::vector<std::string> handles;
    for (const auto& m : messages) {
      std::vector<aws::SnsMessage> audit;
      std::vector<aws::OutgoingSqsMessage> doc;
      for (int d = 0; d < documents; ++d) {
        audit.push_back({std::string(400, 'a'), "", {}, "", ""});
        doc.push_back({std::string(200, 'd'), {}, std::nullopt, "", ""});
        if (audit.size() == 10) {
          sns.publish_batch(t.audit_topic, audit);
          sqs.send_message_batch(t.document_events, doc);
          audit.clear();
          doc.clear();
        }
      }
      if (!audit.empty()) {
        sns.publish_batch(t.audit_topic, audit);
        sqs.send_message_batch(t.document_events, doc);
      }
      handles.push_back(m.receipt_handle);
    }
    if (!handles.empty()) sqs.delete_message_batch(t.entity_queue, handles);
    done += static_cast<int>(messages.size());
  }
  return entities / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"docvault end-to-end benchmark"};
  std::string docvault_bin, backend = "postgresql", relay = "on", json_out;
  int entities = 1000, documents = 5, concurrency = 4, max_messages = 10;
  cli.add_option("--docvault", docvault_bin)->required();
  cli.add_option("--backend", backend)->check(CLI::IsMember({"postgresql", "sqlite"}));
  cli.add_option("--entities", entities);
  cli.add_option("--documents", documents);
  cli.add_option("--concurrency", concurrency);
  cli.add_option("--max-messages", max_messages);
  cli.add_option("--relay", relay)->check(CLI::IsMember({"on", "off"}));
  cli.add_option("--json", json_out);
  CLI11_PARSE(cli, argc, argv);

  aws::SqsClient sqs;
  aws::SnsClient sns;
  std::random_device random;
  const std::string run = "bench-" + std::to_string(random());
  auto topology = make_topology(sqs, sns, run);

  // Storage: a fresh database (or SQLite file), seeded directly.
  std::string database_url;
  std::string data_dir = "/tmp/" + run;
  std::filesystem::create_directories(data_dir);
  if (backend == "postgresql") {
    const char* server = std::getenv("DOCVAULT_TEST_DATABASE_URL");
    if (!server) throw std::runtime_error("DOCVAULT_TEST_DATABASE_URL is not set");
    std::string name = "bench_" + std::to_string(random());
    {
      pqxx::connection admin(server);
      pqxx::nontransaction tx(admin);
      tx.exec0("CREATE DATABASE " + name);
    }
    std::string url(server);
    database_url = url.substr(0, url.rfind('/')) + "/" + name;
  }
  auto store = store::open_store({database_url, data_dir + "/docvault.sqlite3", 4});
  store->migrate();
  auto seed_start = Steady::now();
  for (int begin = 0; begin < entities; begin += 200) {
    store::write(*store, [&](store::Transaction& tx) {
      auto now = SystemClock().now();
      for (int i = begin; i < std::min(entities, begin + 200); ++i) {
        for (int d = 0; d < documents; ++d) {
          Document doc;
          doc.id = uuid_v4();
          doc.entity = EntityRef{"entity-" + std::to_string(i), EntityType::issuer};
          doc.document_type = "general";
          doc.filename = "f.pdf";
          doc.content_type = "application/pdf";
          doc.size_bytes = 1;
          doc.sha256 = std::string(64, 'b');
          doc.created_at = doc.updated_at = now;
          tx.insert_document(doc);
        }
      }
    });
  }
  std::cerr << "seeded " << entities << " x " << documents << " documents in " << seconds_since(seed_start) << " s\n";

  // docvault, started before the events so its start-up is not measured.
  int port = 20000 + static_cast<int>(random() % 20000);
  std::map<std::string, std::string> env{
      {"DATABASE_URL", database_url},
      {"DOCVAULT_DATA_DIR", data_dir},
      {"DOCVAULT_HTTP_ADDR", "127.0.0.1:" + std::to_string(port)},
      {"DOCVAULT_AUTH", "disabled"},
      {"LOG_LEVEL", "warn"},
      {"DOCUMENT_VAULT_SQS_URL", topology.entity_queue},
      {"DOCUMENT_CONSUMER_MAX_MESSAGES", std::to_string(max_messages)},
      {"DOCUMENT_CONSUMER_CONCURRENCY", std::to_string(concurrency)},
      {"DOCVAULT_OUTBOX_RELAY_ENABLED", relay == "on" ? "true" : "false"},
      {"AUDIT_SNS_TOPIC_ARN", topology.audit_topic},
      {"DOCUMENT_EVENTS_SQS_URL", topology.document_events}};
  pid_t pid = spawn(docvault_bin, {"serve"}, env, data_dir + "/docvault.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // start-up, not measured
  auto [idle_cpu, idle_rss] = usage_of(pid);

  auto start = Steady::now();
  auto sent = publish_all(sns, topology.entity_topic, entities, run);
  auto processed_count = [&] {
    return store::read(*store, [&](store::Transaction& tx) {
      store::ProcessedEventFilter all;
      all.limit = static_cast<std::size_t>(entities) + 10;
      return tx.list_processed_events(all);
    });
  };
  std::vector<store::ProcessedEvent> processed;
  while (seconds_since(start) < 900) {
    processed = processed_count();
    if (static_cast<int>(processed.size()) >= entities) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double archived_seconds = seconds_since(start);
  double published_seconds = archived_seconds;
  if (relay == "on") {
    while (seconds_since(start) < 900) {
      auto pending = store::read(*store, [](store::Transaction& tx) { return tx.outbox_backlog(); }).pending;
      if (pending == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    published_seconds = seconds_since(start);
  }
  auto [cpu, rss] = usage_of(pid);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);

  // Publish -> archived, from the rows' processing time (the app's clock: the
  // same machine as ours).
  std::vector<double> latencies;
  auto wall_now = std::chrono::system_clock::now();
  auto steady_now = Steady::now();
  for (const auto& e : processed) {
    auto it = sent.find(e.event_id);
    if (it == sent.end()) continue;
    auto processed_steady = steady_now - std::chrono::duration_cast<Steady::duration>(wall_now - e.processed_at);
    latencies.push_back(std::chrono::duration<double>(processed_steady - it->second).count() * 1000);
  }

  double ceiling = emulator_ceiling(sqs, sns, topology, entities, documents, run);

  json report = {{"backend", backend},
                 {"entities", entities},
                 {"documents_per_entity", documents},
                 {"concurrency", concurrency},
                 {"max_messages", max_messages},
                 {"relay", relay},
                 {"seconds_to_archive_all", archived_seconds},
                 {"seconds_to_publish_all", published_seconds},
                 {"entity_events_per_second", entities / archived_seconds},
                 {"documents_archived_per_second", entities * documents / archived_seconds},
                 {"end_to_end_events_per_second", entities / published_seconds},
                 {"emulator_ceiling_events_per_second", ceiling},
                 {"fraction_of_ceiling", (entities / published_seconds) / ceiling},
                 {"publish_to_archived_ms", {{"p50", percentile(latencies, 0.5)},
                                             {"p95", percentile(latencies, 0.95)},
                                             {"p99", percentile(latencies, 0.99)}}},
                 {"cpu_seconds_per_1000_events", (cpu - idle_cpu) / entities * 1000},
                 {"rss_idle_kib", idle_rss},
                 {"rss_peak_kib", rss}};
  std::cout << report.dump(2) << std::endl;
  if (!json_out.empty()) std::ofstream(json_out) << report.dump(2) << "\n";
  std::filesystem::remove_all(data_dir);
  return 0;
}
