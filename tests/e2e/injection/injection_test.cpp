// Hostile strings through every input of the real binary, on both databases:
// every HTTP field (multipart parts, query parameters, the path, headers)
// and every field of an entity event (published through the emulator's SNS
// topic). Each is either stored and returned byte for byte, or refused with
// a 400 naming the field (or, for events, recorded in rejected_messages byte
// for byte); none is ever interpreted: a '%' or '_' matches only itself, and
// "'; DROP TABLE documents;--" is just an entity id.
#include <random>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "aws/sns_client.h"
#include "aws/sqs_client.h"
#include "docvault_instance.h"
#include "domain/uuid.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kDrop = "'; DROP TABLE documents;--";
// Printable hostile values: each must be stored and matched exactly.
const std::vector<std::string> kStoredVerbatim = {
    kDrop, "%", "_", "a%", "a_c", "%%", "\\", "\"quoted\"", "' OR '1'='1", "1; SELECT pg_sleep(10)", "$1",
    "?1", "x' UNION SELECT * FROM processed_events --", "ünïcødé ✓", std::string(255, 'z')};
// Values every field refuses.
const std::vector<std::pair<std::string, std::string>> kRefused = {
    {"nul", std::string("a\0b", 3)}, {"non-utf8", "a\xff\xfe"}, {"overlong utf8", "\xc0\xaf"},
    {"control", "a\nb"}, {"too long", std::string(256, 'z')}};

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class InjectionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    storage_.emplace(GetParam(), dir_.path() / "var");
    if (!storage_->available()) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
    }
  }
  void start(std::map<std::string, std::string> env = {}) {
    env.try_emplace("ENABLE_DOCUMENT_CONSUMER", "false");
    server_.emplace(*storage_, dir_.path() / "serve.log", env);
    ASSERT_TRUE(server_->ready()) << server_->output();
    client_.emplace(server_->client());
  }
  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "--- docvault output ---\n" << server_->output();
  }

  httplib::Result upload(const std::string& entity_id, const std::string& filename = "f.pdf",
                         const std::string& document_type = "general",
                         const std::string& content_type = "application/pdf") {
    httplib::MultipartFormDataItems items{{"file", "bytes", filename, content_type},
                                          {"entity_id", entity_id, "", ""},
                                          {"entity_type", "issuer", "", ""},
                                          {"document_type", document_type, "", ""}};
    return client_->Post("/v1/documents", items);
  }

  json list(const std::string& entity_id, const std::string& extra = "") {
    auto res = client_->Get("/v1/documents?entity_id=" + percent_encode(entity_id) + "&entity_type=issuer" + extra);
    EXPECT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  }

  // A 400 naming `field` (or `alternative`: a part whose headers a hostile
  // filename broke is no file part at all).
  void expect_refused(const httplib::Result& res, const std::string& field, const std::string& alternative = "") {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    auto body = json::parse(res->body, nullptr, false);
    EXPECT_TRUE(body["error"]["field"] == field || (!alternative.empty() && body["error"]["field"] == alternative))
        << res->body;
  }

  std::size_t all_documents() {
    std::size_t n = 0;
    for (const auto& e : kStoredVerbatim) {
      n += store::read(storage_->store(), [&](store::Transaction& tx) {
             return tx.list_documents({{e, EntityType::issuer}, std::nullopt, 10, std::nullopt});
           }).size();
    }
    return n;
  }

  docvault::testing::TempDir dir_;
  std::optional<docvault::testing::TestStorage> storage_;
  std::optional<docvault::testing::DocvaultInstance> server_;
  std::optional<httplib::Client> client_;
};

TEST_P(InjectionTest, EntityIdsAreStoredAndMatchedExactly) {
  start();
  // Every hostile id gets one document; "victim" and "abc" one each, which
  // no hostile pattern may reach.
  for (const auto& id : {std::string("victim"), std::string("abc")}) ASSERT_EQ(upload(id)->status, 201);
  for (const auto& id : kStoredVerbatim) {
    auto res = upload(id);
    ASSERT_EQ(res->status, 201) << id << ": " << res->body;
    EXPECT_EQ(json::parse(res->body)["entity_id"], id);
  }
  for (const auto& id : kStoredVerbatim) {
    auto page = list(id);
    ASSERT_EQ(page["items"].size(), 1u) << id;
    EXPECT_EQ(page["items"][0]["entity_id"], id);
  }
  EXPECT_EQ(list("victim")["items"].size(), 1u);
  EXPECT_EQ(list("abc")["items"].size(), 1u);
  EXPECT_EQ(all_documents(), kStoredVerbatim.size());  // the table is still there, with each row
  for (const auto& [what, id] : kRefused) {
    SCOPED_TRACE(what);
    expect_refused(upload(id), "entity_id");
    auto res = client_->Get("/v1/documents?entity_id=" + percent_encode(id) + "&entity_type=issuer");
    expect_refused(res, "entity_id");
  }
}

TEST_P(InjectionTest, EveryOtherUploadFieldIsExactOrRefused) {
  start();
  for (const auto& name : {kDrop + ".pdf", std::string("%_%.pdf"), std::string("../../etc/passwd"),
                           std::string("\"; filename=evil.exe"), std::string("ünïcødé.pdf")}) {
    auto res = upload("issuer-1", name);
    ASSERT_EQ(res->status, 201) << name << ": " << res->body;
    const std::string id = json::parse(res->body)["id"];
    EXPECT_EQ(json::parse(client_->Get("/v1/documents/" + id)->body)["filename"], name);
    auto download = client_->Get("/v1/documents/" + id + "/content");
    auto disposition = download->get_header_value("Content-Disposition");
    auto ascii = disposition.substr(0, disposition.find("; filename*="));
    EXPECT_EQ(ascii.find_first_of("\\;/%", std::string("attachment; filename=\"").size()), std::string::npos)
        << disposition;
  }
  for (const auto& [what, value] : kRefused) {
    SCOPED_TRACE(what);
    if (what != "nul") expect_refused(upload("issuer-1", value + ".pdf"), "filename", "file");
    expect_refused(upload("issuer-1", "f.pdf", value), "document_type");
  }
  for (const auto& type : {kDrop, std::string("%"), std::string("a b")}) {
    expect_refused(upload("issuer-1", "f.pdf", type), "document_type");
  }
  for (const auto& type : {kDrop, std::string("%"), std::string("_")}) {
    expect_refused(upload("issuer-1", "f.pdf", "general", type), "content_type");
  }
  // A media type whose parameter is a quoted string is valid, and kept exactly.
  const std::string quoted_type = "text/plain; x=\"';--\"";
  auto typed = upload("issuer-1", "f.pdf", "general", quoted_type);
  ASSERT_EQ(typed->status, 201) << typed->body;
  EXPECT_EQ(json::parse(typed->body)["content_type"], quoted_type);
  // "_" is a valid document type, stored as it is.
  auto underscore = upload("issuer-1", "f.pdf", "_");
  ASSERT_EQ(underscore->status, 201);
  EXPECT_EQ(json::parse(underscore->body)["document_type"], "_");
  httplib::MultipartFormDataItems bad_type{{"file", "x", "f.pdf", "application/pdf"},
                                           {"entity_id", "issuer-1", "", ""},
                                           {"entity_type", kDrop, "", ""}};
  expect_refused(client_->Post("/v1/documents", bad_type), "entity_type");
}

TEST_P(InjectionTest, QueryPathAndHeadersAreExactOrRefused) {
  start();
  auto created = upload("issuer-1");
  ASSERT_EQ(created->status, 201);
  const std::string id = json::parse(created->body)["id"];
  for (const auto& value : kStoredVerbatim) {
    SCOPED_TRACE(value);
    expect_refused(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=" + percent_encode(value)), "entity_type");
    expect_refused(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&status=" + percent_encode(value)),
                   "status");
    expect_refused(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&limit=" + percent_encode(value)),
                   "limit");
    expect_refused(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer&cursor=" + percent_encode(value)),
                   "cursor");
    expect_refused(client_->Get("/v1/documents/" + percent_encode(value)), "id");
    expect_refused(client_->Get("/v1/documents/" + percent_encode(value) + "/content"), "id");
    expect_refused(client_->Post("/v1/documents/" + percent_encode(value) + "/archive", "", "text/plain"), "id");
    // Headers: a hostile request id is echoed only when it is short printable
    // text; If-None-Match never breaks the download; a Range that does not
    // parse is refused whole by the HTTP library (416, as JSON).
    auto res = client_->Get("/v1/documents/" + id + "/content", {{"X-Request-Id", value}, {"If-None-Match", value}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "bytes");
    if (value.size() <= 128) {
      EXPECT_EQ(res->get_header_value("X-Request-Id"), value);
    }
    auto ranged = client_->Get("/v1/documents/" + id + "/content", {{"Range", value}});
    ASSERT_TRUE(ranged);
    EXPECT_TRUE(ranged->status == 200 || ranged->status == 416) << ranged->status;
    if (ranged->status == 416) {
      EXPECT_TRUE(json::parse(ranged->body)["error"].is_object());
      EXPECT_FALSE(ranged->get_header_value("X-Request-Id").empty());
    }
  }
  // A request id that is not printable text is replaced.
  auto res = client_->Get("/healthz", {{"X-Request-Id", "a\xff\xfe"}});
  EXPECT_EQ(res->get_header_value("X-Request-Id").size(), 36u);
  // The document is untouched by all of it.
  auto page = list("issuer-1");
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["status"], "active");
  // The access log never interprets a path either: it is data in a JSON line.
  EXPECT_TRUE(server_->wait_for_log("DROP TABLE"));
}

TEST_P(InjectionTest, EventFieldsThroughSnsAreExactOrRejected) {
  DOCVAULT_REQUIRE_ENV(endpoint, "AWS_ENDPOINT_URL");
  aws::SqsClient sqs;
  aws::SnsClient sns;
  const auto name = "injection-" + std::to_string(std::random_device()());
  const auto queue = sqs.create_queue(name, {{"VisibilityTimeout", "30"}});
  const auto topic = sns.create_topic(name);
  const std::vector<std::string> arn{"QueueArn"};
  sns.subscribe(topic, "sqs", sqs.get_queue_attributes(queue, arn).at("QueueArn"));
  start({{"ENABLE_DOCUMENT_CONSUMER", "true"}, {"DOCUMENT_VAULT_SQS_URL", queue}, {"DOCUMENT_CONSUMER_WAIT_TIME", "1"}});
  ASSERT_TRUE(server_->wait_for_log("Document Vault consumer started as background task"));

  // Documents of hostile entities, of "victim", and of "abc".
  for (const auto& id : {std::string("victim"), std::string("abc"), std::string("%"), std::string("_"), kDrop}) {
    ASSERT_EQ(upload(id)->status, 201);
  }
  auto event = [](const std::string& event_id, const std::string& entity_id, const std::string& source) {
    return json{{"event_id", event_id}, {"source", source}, {"action", "entity.deleted"},
                {"entity_id", entity_id}, {"entity_type", "issuer"}}
        .dump();
  };
  // Stored verbatim: hostile ids and sources, and entity ids that only match themselves.
  const std::vector<std::pair<std::string, std::string>> accepted = {
      {kDrop, "%"}, {"%", "_"}, {"_", kDrop}, {"' OR '1'='1", "nobody"}};
  for (const auto& [event_id, entity_id] : accepted) {
    sns.publish(topic, aws::SnsMessage{event(event_id, entity_id, "src'; DROP TABLE processed_events;--"), "", {}, "", ""});
  }
  // Refused: NUL (escaped in JSON), control characters, a lone surrogate, too long.
  std::vector<std::string> refused_bodies = {
      event(std::string("nul\0id", 6), "victim", "s"), event("ctl\nid", "victim", "s"),
      event(std::string(300, 'e'), "victim", "s"),
      R"({"event_id":"surrogate-\udcff","source":"s","action":"entity.deleted","entity_id":"victim","entity_type":"issuer"})",
      event("ok-id", "victim", std::string("s\x01", 2))};
  for (const auto& body : refused_bodies) sns.publish(topic, aws::SnsMessage{body, "", {}, "", ""});

  auto processed = [&](const std::string& event_id) {
    return store::read(storage_->store(), [&](store::Transaction& tx) { return tx.find_processed_event(event_id); });
  };
  auto rejected = [&] {
    return store::read(storage_->store(), [](store::Transaction& tx) { return tx.rejected_messages(100); });
  };
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    for (const auto& [event_id, entity] : accepted) {
      if (!processed(event_id)) return false;
    }
    return rejected().size() == refused_bodies.size();
  }, 30s)) << "rejected " << rejected().size();

  for (const auto& [event_id, entity_id] : accepted) {
    auto row = processed(event_id);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->event_id, event_id);
    EXPECT_EQ(row->entity_id.value_or(""), entity_id);
    EXPECT_EQ(row->source, "src'; DROP TABLE processed_events;--");
  }
  // Each hostile entity archived its own document only.
  for (const auto& id : {std::string("%"), std::string("_"), kDrop}) {
    auto page = list(id, "&status=archived");
    ASSERT_EQ(page["items"].size(), 1u) << id;
    EXPECT_EQ(page["items"][0]["entity_id"], id);
  }
  EXPECT_EQ(list("victim", "&status=active")["items"].size(), 1u);
  EXPECT_EQ(list("abc", "&status=active")["items"].size(), 1u);
  // Rejected bodies are kept byte for byte (inside the SNS envelope).
  for (const auto& r : rejected()) {
    EXPECT_EQ(r.reason, "invalid_message") << r.detail;
    auto envelope = json::parse(r.body);
    EXPECT_NE(std::find(refused_bodies.begin(), refused_bodies.end(), envelope["Message"].get<std::string>()),
              refused_bodies.end())
        << r.body;
  }
  try {
    sqs.delete_queue(queue);
    sns.delete_topic(topic);
  } catch (const std::exception&) {
  }
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& param_info) {
  return param_info.param == Backend::sqlite ? "sqlite" : "postgresql";
}

INSTANTIATE_TEST_SUITE_P(Backends, InjectionTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         backend_name);

}  // namespace
}  // namespace docvault
