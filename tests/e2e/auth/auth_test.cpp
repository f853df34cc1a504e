// Black-box tests of authentication and authorization: the real binary with
// each kind of key (HS256 secret, RS256 PEM key, ES256 in a JWKS), tokens
// minted here with OpenSSL, and every route's scope.
#include <signal.h>

#include <fstream>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "docvault_instance.h"
#include "raw_connection.h"
#include "test_crypto.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::claims;
using docvault::testing::DocvaultInstance;
using docvault::testing::TestStorage;
using nlohmann::json;

const std::string kSecret = "e2e-hs256-secret-0123456789abcdef!";
const std::string kAllScopes = "documents:read documents:write documents:admin";

class AuthTest : public ::testing::Test {
 protected:
  void start(std::map<std::string, std::string> env) {
    storage_.emplace(Backend::sqlite, dir_.path() / "var");
    env.try_emplace("ENABLE_DOCUMENT_CONSUMER", "false");
    server_.emplace(*storage_, dir_.path() / "serve.log", env);
    ASSERT_TRUE(server_->ready()) << server_->output();
    client_.emplace(server_->client());
  }

  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "--- docvault output ---\n" << server_->output();
  }

  static httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

  httplib::Result upload(const httplib::Headers& headers, const std::string& entity = "issuer-1") {
    httplib::MultipartFormDataItems items{{"file", "content", "a.pdf", "application/pdf"},
                                          {"entity_id", entity, "", ""},
                                          {"entity_type", "issuer", "", ""}};
    return client_->Post("/v1/documents", headers, items);
  }

  // Every /v1 route with `headers`, as {name, status}.
  std::vector<std::pair<std::string, int>> every_route(const httplib::Headers& headers, const std::string& id) {
    std::vector<std::pair<std::string, int>> out;
    auto status = [](const httplib::Result& r) { return r ? r->status : -1; };
    out.emplace_back("list", status(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer", headers)));
    out.emplace_back("get", status(client_->Get(("/v1/documents/" + id).c_str(), headers)));
    out.emplace_back("content", status(client_->Get(("/v1/documents/" + id + "/content").c_str(), headers)));
    out.emplace_back("upload", status(upload(headers)));
    out.emplace_back("archive",
                     status(client_->Post(("/v1/documents/" + id + "/archive").c_str(), headers, "", "text/plain")));
    out.emplace_back("unknown", status(client_->Get("/v1/nothing-here", headers)));
    return out;
  }

  void expect_unauthorized(const httplib::Result& res, bool missing) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    EXPECT_EQ(json::parse(res->body)["error"]["code"], "unauthorized");
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"),
              missing ? R"(Bearer realm="docvault")" : R"(Bearer realm="docvault", error="invalid_token")");
  }

  std::string seed_document() {
    auto res = upload(bearer(docvault::testing::jwt_hs256(kSecret, claims("seeder", kAllScopes))), "issuer-1");
    EXPECT_EQ(res->status, 201) << res->body;
    return json::parse(res->body)["id"];
  }

  json audit_events() {
    json out = json::array();
    auto rows = store::read(storage_->store(), [](store::Transaction& tx) { return tx.outbox_messages("issuer-1"); });
    for (const auto& row : rows) {
      if (row.destination == Destination::sns) out.push_back(json::parse(row.payload));
    }
    return out;
  }

  docvault::testing::TempDir dir_;
  std::optional<TestStorage> storage_;
  std::optional<DocvaultInstance> server_;
  std::optional<httplib::Client> client_;
};

TEST_F(AuthTest, EveryApiRouteNeedsAValidTokenAndHealthDoesNot) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}});
  const std::string id = seed_document();
  for (const auto& [route, status] : every_route({}, id)) EXPECT_EQ(status, 401) << route;
  expect_unauthorized(client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer"), true);
  for (const auto& [route, status] : every_route(bearer("not.a.token"), id)) EXPECT_EQ(status, 401) << route;
  expect_unauthorized(client_->Get("/v1/documents/" + id, bearer("not.a.token")), false);
  expect_unauthorized(client_->Get("/v1/documents/" + id, {{"Authorization", "Basic YTpi"}}), false);
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
  EXPECT_EQ(client_->Get("/readyz")->status, 200);
  // Metrics are open by default.
  EXPECT_EQ(client_->Get("/metrics")->status, 200);
}

TEST_F(AuthTest, EachRouteChecksItsScope) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}});
  const std::string id = seed_document();
  auto read = bearer(docvault::testing::jwt_hs256(kSecret, claims("reader", "documents:read")));
  auto write = bearer(docvault::testing::jwt_hs256(kSecret, claims("writer", "documents:write")));
  auto admin = bearer(docvault::testing::jwt_hs256(kSecret, claims("admin", "documents:admin")));
  using Routes = std::vector<std::pair<std::string, int>>;
  EXPECT_EQ(every_route(read, id),
            (Routes{{"list", 200}, {"get", 200}, {"content", 200}, {"upload", 403}, {"archive", 403}, {"unknown", 404}}));
  EXPECT_EQ(every_route(write, id),
            (Routes{{"list", 403}, {"get", 403}, {"content", 403}, {"upload", 201}, {"archive", 200}, {"unknown", 404}}));
  // documents:admin is the admin API's scope, not a superset of the others.
  EXPECT_EQ(every_route(admin, id),
            (Routes{{"list", 403}, {"get", 403}, {"content", 403}, {"upload", 403}, {"archive", 403}, {"unknown", 404}}));
  auto forbidden = upload(read);
  EXPECT_EQ(json::parse(forbidden->body)["error"]["code"], "forbidden");
  EXPECT_EQ(forbidden->get_header_value("WWW-Authenticate"),
            R"(Bearer realm="docvault", error="insufficient_scope", scope="documents:write")");
}

TEST_F(AuthTest, TheTokenSubjectIsTheActorOfAuditEvents) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}});
  auto user = claims("alice@example.com", "documents:write");
  auto service = claims("ingest-service", "documents:write");
  service["client_id"] = "ingest-service";
  auto created = upload(bearer(docvault::testing::jwt_hs256(kSecret, user)));
  ASSERT_EQ(created->status, 201);
  const std::string id = json::parse(created->body)["id"];
  ASSERT_EQ(client_->Post(("/v1/documents/" + id + "/archive").c_str(),
                          bearer(docvault::testing::jwt_hs256(kSecret, service)), "", "text/plain")
                ->status,
            200);
  auto events = audit_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["action"], "document.created");
  EXPECT_EQ(events[0]["actor_id"], "alice@example.com");
  EXPECT_EQ(events[0]["actor_type"], "user");
  EXPECT_EQ(events[1]["action"], "document.archived");
  EXPECT_EQ(events[1]["actor_id"], "ingest-service");
  EXPECT_EQ(events[1]["actor_type"], "service");
}

TEST_F(AuthTest, BadTokensAreRefusedAndNeverLogged) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}, {"DOCVAULT_JWT_ISSUER", "https://idp.example"},
         {"DOCVAULT_JWT_AUDIENCE", "docvault"}, {"DOCVAULT_JWT_LEEWAY_SECONDS", "5"}});
  auto good = [] {
    auto c = claims("alice", "documents:read");
    c["iss"] = "https://idp.example";
    c["aud"] = json::array({"other", "docvault"});
    return c;
  };
  auto list = [&](const std::string& token) {
    return client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer", bearer(token));
  };
  const auto valid = docvault::testing::jwt_hs256(kSecret, good());
  EXPECT_EQ(list(valid)->status, 200);

  std::vector<std::pair<std::string, std::string>> bad;
  auto expired = good();
  expired["exp"] = docvault::testing::unix_now() - 30;
  bad.emplace_back("expired", docvault::testing::jwt_hs256(kSecret, expired));
  auto early = good();
  early["nbf"] = docvault::testing::unix_now() + 60;
  bad.emplace_back("not yet valid", docvault::testing::jwt_hs256(kSecret, early));
  auto issuer = good();
  issuer["iss"] = "https://evil.example";
  bad.emplace_back("wrong issuer", docvault::testing::jwt_hs256(kSecret, issuer));
  auto audience = good();
  audience["aud"] = "someone-else";
  bad.emplace_back("wrong audience", docvault::testing::jwt_hs256(kSecret, audience));
  bad.emplace_back("alg none", docvault::testing::jwt_none(good()));
  bad.emplace_back("wrong secret", docvault::testing::jwt_hs256("another-secret-0123456789abcdef0123", good()));
  for (const auto& [what, token] : bad) {
    SCOPED_TRACE(what);
    expect_unauthorized(list(token), false);
  }
  ASSERT_TRUE(server_->wait_for_log("\"status\":401"));
  const auto log = server_->output();
  EXPECT_EQ(log.find(valid), std::string::npos);
  EXPECT_EQ(log.find(valid.substr(valid.rfind('.') + 1)), std::string::npos);  // not even the signature
  for (const auto& [what, token] : bad) EXPECT_EQ(log.find(token), std::string::npos) << what;
  EXPECT_EQ(log.find(kSecret), std::string::npos);
}

TEST_F(AuthTest, Rs256WithAPemKeyRefusesHs256SignedWithThatKey) {
  auto key = docvault::testing::generate_rsa();
  const auto pem = docvault::testing::public_pem(key.get());
  const auto path = dir_.path() / "public.pem";
  std::ofstream(path) << pem;
  start({{"DOCVAULT_JWT_PUBLIC_KEY_FILE", path.string()}});
  auto list = [&](const std::string& token) {
    return client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer", bearer(token));
  };
  EXPECT_EQ(list(docvault::testing::jwt_signed(key.get(), claims("svc", "documents:read")))->status, 200);
  expect_unauthorized(list(docvault::testing::jwt_hs256(pem, claims("mallory", "documents:read"))), false);
  expect_unauthorized(list(docvault::testing::jwt_none(claims("mallory", "documents:read"))), false);
  auto other = docvault::testing::generate_rsa();
  expect_unauthorized(list(docvault::testing::jwt_signed(other.get(), claims("svc", "documents:read"))), false);
}

TEST_F(AuthTest, Es256FromAJwksChosenByKid) {
  auto ec1 = docvault::testing::generate_ec();
  auto ec2 = docvault::testing::generate_ec();
  auto rsa = docvault::testing::generate_rsa();
  json jwks = {{"keys", {docvault::testing::jwk(ec1.get(), "ec-1"), docvault::testing::jwk(ec2.get(), "ec-2"),
                         docvault::testing::jwk(rsa.get(), "rsa-1")}}};
  const auto path = dir_.path() / "jwks.json";
  std::ofstream(path) << jwks.dump();
  start({{"DOCVAULT_JWT_PUBLIC_KEY_FILE", path.string()}});
  auto list = [&](const std::string& token) {
    return client_->Get("/v1/documents?entity_id=issuer-1&entity_type=issuer", bearer(token));
  };
  EXPECT_EQ(list(docvault::testing::jwt_signed(ec1.get(), claims("a", "documents:read"), "ec-1"))->status, 200);
  EXPECT_EQ(list(docvault::testing::jwt_signed(ec2.get(), claims("a", "documents:read"), "ec-2"))->status, 200);
  EXPECT_EQ(list(docvault::testing::jwt_signed(rsa.get(), claims("a", "documents:read"), "rsa-1"))->status, 200);
  expect_unauthorized(list(docvault::testing::jwt_signed(ec1.get(), claims("a", "documents:read"), "ec-2")), false);
  expect_unauthorized(list(docvault::testing::jwt_signed(ec1.get(), claims("a", "documents:read"))), false);
}

TEST_F(AuthTest, AnUnauthenticatedUploadIsRefusedBeforeItsBodyIsRead) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}, {"DOCVAULT_MAX_UPLOAD_BYTES", "1073741824"}});
  // Headers announcing a 1 GiB body, and no body: the 401 comes at once, and
  // the connection is closed (the body is never read).
  docvault::testing::RawConnection raw(server_->port());
  ASSERT_TRUE(raw.connected());
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(raw.send("POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                       "Content-Length: 1073741824\r\n\r\n"));
  auto response = raw.receive(std::chrono::seconds(5));
  EXPECT_TRUE(response.starts_with("HTTP/1.1 401")) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_TRUE(raw.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST_F(AuthTest, MetricsCanRequireTheMetricsScope) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}, {"DOCVAULT_METRICS_AUTH", "required"}});
  EXPECT_EQ(client_->Get("/metrics")->status, 401);
  EXPECT_EQ(client_->Get("/metrics", bearer(docvault::testing::jwt_hs256(kSecret, claims("a", "documents:read"))))
                ->status,
            403);
  auto scraped = client_->Get("/metrics", bearer(docvault::testing::jwt_hs256(kSecret, claims("p", "metrics:read"))));
  EXPECT_EQ(scraped->status, 200);
  EXPECT_NE(scraped->body.find("docvault_http_requests_total"), std::string::npos);
}

// Start-up without a usable key: exit 2 and one line naming the variable.
class AuthStartupTest : public ::testing::Test {
 protected:
  std::pair<int, std::string> serve(std::map<std::string, std::string> env) {
    TestStorage storage(Backend::sqlite, dir_.path() / "var");
    std::map<std::string, std::string> full = storage.environment();
    full["DOCVAULT_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(docvault::testing::free_port());
    full["DOCVAULT_OUTBOX_RELAY_ENABLED"] = "false";
    full["ENABLE_DOCUMENT_CONSUMER"] = "false";
    for (const char* name : {"DOCVAULT_AUTH", "DOCVAULT_JWT_SECRET", "DOCVAULT_JWT_PUBLIC_KEY_FILE"}) full[name] = "";
    for (auto& [k, v] : env) full[k] = v;
    docvault::testing::Process process(docvault::testing::docvault_binary(), {"serve"}, full,
                                       dir_.path() / "serve.log");
    auto code = process.wait(std::chrono::seconds(10));
    if (!code) process.signal(SIGKILL);
    return {code.value_or(-1), process.output()};
  }
  docvault::testing::TempDir dir_;
};

TEST_F(AuthStartupTest, NoKeyMeansNoStart) {
  auto [code, output] = serve({});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("DOCVAULT_JWT_SECRET"), std::string::npos) << output;
  EXPECT_NE(output.find("DOCVAULT_AUTH=disabled"), std::string::npos) << output;
}

TEST_F(AuthStartupTest, AnUnusableKeyFileOrShortSecretMeansNoStart) {
  auto [code, output] = serve({{"DOCVAULT_JWT_PUBLIC_KEY_FILE", (dir_.path() / "missing.pem").string()}});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("DOCVAULT_JWT_PUBLIC_KEY_FILE"), std::string::npos) << output;
  std::ofstream(dir_.path() / "garbage.pem") << "garbage";
  std::tie(code, output) = serve({{"DOCVAULT_JWT_PUBLIC_KEY_FILE", (dir_.path() / "garbage.pem").string()}});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("DOCVAULT_JWT_PUBLIC_KEY_FILE"), std::string::npos) << output;
  std::tie(code, output) = serve({{"DOCVAULT_JWT_SECRET", "too-short"}});
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("DOCVAULT_JWT_SECRET"), std::string::npos) << output;
  EXPECT_EQ(output.find("too-short"), std::string::npos) << output;  // a secret is never echoed
}

TEST_F(AuthStartupTest, DisabledAuthStartsWithALoudWarning) {
  TestStorage storage(Backend::sqlite, dir_.path() / "var");
  DocvaultInstance instance(storage, dir_.path() / "disabled.log", {{"DOCVAULT_AUTH", "disabled"}});
  ASSERT_TRUE(instance.ready()) << instance.output();
  EXPECT_TRUE(instance.wait_for_log("AUTHENTICATION IS DISABLED")) << instance.output();
  auto client = instance.client();
  EXPECT_EQ(client.Get("/v1/documents?entity_id=issuer-1&entity_type=issuer")->status, 200);
}

}  // namespace
}  // namespace docvault
