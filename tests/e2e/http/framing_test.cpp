// A hostile client against the real binary, over raw sockets: request
// smuggling (conflicting or malformed framing), bodies the route must not
// take, encodings, limits on every framing, uploads that break off, and slow
// bodies. Each case checks the status, whether the connection was closed,
// that nothing sent after a bad request was served, and that nothing was
// written (no document, outbox row, blob or temporary file).
#include <atomic>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "docvault_instance.h"
#include "raw_connection.h"
#include "test_crypto.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::RawConnection;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::uint64_t kMaxUpload = 100 * 1000;
const std::string kSecret = "e2e-framing-secret-0123456789abcdef!";
const std::string kUnknownId = "0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b";

// What came back on a connection: the bytes, how many responses, closed or not.
struct Exchange {
  std::string bytes;
  bool closed = false;
  int responses() const {
    int n = 0;
    for (auto at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1)) ++n;
    return n;
  }
  int status() const { return bytes.size() >= 12 ? std::stoi(bytes.substr(9, 3)) : -1; }
  std::string code() const {
    auto start = bytes.find("\r\n\r\n");
    if (start == std::string::npos) return "";
    auto body = json::parse(bytes.substr(start + 4, bytes.find("HTTP/1.1 ", start) - start - 4), nullptr, false);
    return body.is_object() && body.contains("error") ? body["error"]["code"].get<std::string>() : "";
  }
};

std::string multipart(const std::vector<std::array<std::string, 3>>& parts, const std::string& boundary = "b0undary") {
  std::string body;
  for (const auto& [name, filename, value] : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) body += "; filename=\"" + filename + "\"\r\nContent-Type: application/pdf";
    body += "\r\n\r\n" + value + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

std::string good_upload_body(const std::string& content = "content") {
  return multipart({{"entity_id", "", "issuer-1"}, {"entity_type", "", "issuer"}, {"file", "a.pdf", content}});
}

std::string upload_head(const std::string& framing, const std::string& extra = "") {
  return "POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n" +
         extra + framing + "\r\n";
}

std::string chunked(std::string_view body) {
  std::string out;
  while (!body.empty()) {
    auto piece = body.substr(0, 1000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    out += size;
    out += piece;
    out += "\r\n";
    body.remove_prefix(piece.size());
  }
  return out + "0\r\n\r\n";
}

const std::string kHealth = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

class HttpFramingTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    storage_.emplace(GetParam(), dir_.path() / "var");
    if (!storage_->available()) {
      DOCVAULT_REQUIRE_ENV(url, "DOCVAULT_TEST_DATABASE_URL");
    }
  }
  void start(std::map<std::string, std::string> env = {}) {
    env.try_emplace("ENABLE_DOCUMENT_CONSUMER", "false");
    env.try_emplace("DOCVAULT_MAX_UPLOAD_BYTES", std::to_string(kMaxUpload));
    server_.emplace(*storage_, dir_.path() / "serve.log", env);
    ASSERT_TRUE(server_->ready()) << server_->output();
  }
  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "--- docvault output ---\n" << server_->output();
  }

  // Sends `request` and reads until the server closes or `wait` passes.
  Exchange send(const std::string& request, std::chrono::milliseconds wait = 3s) {
    RawConnection c(server_->port());
    EXPECT_TRUE(c.connected());
    c.send(request);
    Exchange e;
    e.bytes = c.receive(wait);
    e.closed = c.closed_by_peer();
    return e;
  }

  // A 400 (or `status`), the connection closed, and the request smuggled
  // behind it never answered.
  void expect_refused_and_closed(const std::string& head_and_body, int status = 400) {
    SCOPED_TRACE(head_and_body.substr(0, 300));
    auto e = send(head_and_body + kHealth);
    EXPECT_EQ(e.status(), status) << e.bytes;
    EXPECT_EQ(e.responses(), 1) << e.bytes;
    EXPECT_TRUE(e.closed);
    EXPECT_NE(e.bytes.find("Content-Type: application/json"), std::string::npos) << e.bytes;
    expect_nothing_written();
  }

  void expect_nothing_written() {
    auto& store = storage_->store();
    auto docs = store::read(store, [](store::Transaction& tx) {
      return tx.list_documents({{"issuer-1", EntityType::issuer}, std::nullopt, 10, std::nullopt});
    });
    EXPECT_TRUE(docs.empty());
    auto outbox = store::read(store, [](store::Transaction& tx) { return tx.outbox_messages("issuer-1"); });
    EXPECT_TRUE(outbox.empty());
    std::size_t files = 0;
    if (std::filesystem::exists(storage_->data_dir() / "blobs")) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(storage_->data_dir() / "blobs")) {
        files += e.is_regular_file();
      }
    }
    EXPECT_EQ(files, 0u) << "blobs or temporary files left behind";
  }

  long server_rss_kib() {
    std::ifstream status("/proc/" + std::to_string(server_->process().pid()) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    }
    return -1;
  }

  docvault::testing::TempDir dir_;
  std::optional<docvault::testing::TestStorage> storage_;
  std::optional<docvault::testing::DocvaultInstance> server_;
};

TEST_P(HttpFramingTest, ConflictingOrMalformedFramingIsRefusedAndClosesTheConnection) {
  start();
  const std::string body = good_upload_body();
  const std::string length = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  // Content-Length with Transfer-Encoding, in either order.
  expect_refused_and_closed(upload_head(length + "Transfer-Encoding: chunked\r\n") + chunked(body));
  expect_refused_and_closed(upload_head("Transfer-Encoding: chunked\r\n" + length) + chunked(body));
  // Several Content-Lengths, equal or not, in one field or two.
  expect_refused_and_closed(upload_head(length + length) + body);
  expect_refused_and_closed(upload_head(length + "Content-Length: 3\r\n") + body);
  expect_refused_and_closed(upload_head("Content-Length: 3, 3\r\n") + body);
  // Lengths that are not plain digits.
  for (const char* value : {"abc", "+0", "-1", "0x0", "1e3", " ", "18446744073709551616"}) {
    expect_refused_and_closed(upload_head(std::string("Content-Length: ") + value + "\r\n") + body);
  }
  // Codings other than chunked alone; header values are never percent-decoded.
  for (const char* value : {"gzip", "%63hunked", "gzip, chunked", "chunked, chunked", "identity", "chunked;x"}) {
    expect_refused_and_closed(upload_head(std::string("Transfer-Encoding: ") + value + "\r\n") + chunked(body));
  }
  expect_refused_and_closed(upload_head("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") +
                            chunked(body));
  // Chunk data without its CRLF, a chunk size that is not hex, a body cut short.
  expect_refused_and_closed(upload_head("Transfer-Encoding: chunked\r\n") + "5\r\nhelloXX0\r\n\r\n");
  expect_refused_and_closed(upload_head("Transfer-Encoding: chunked\r\n") + "zz\r\nhello\r\n0\r\n\r\n");
  // Not HTTP/1.x, no Host.
  expect_refused_and_closed("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n");
  expect_refused_and_closed("GET /healthz HTTP/1.1\r\n\r\n");
  expect_refused_and_closed("GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n");
}

TEST_P(HttpFramingTest, ARequestWithoutFramingHeadersHasNoBody) {
  start();
  // Answered at once (no wait for a body), and the next request on the
  // connection is served.
  auto started = std::chrono::steady_clock::now();
  RawConnection c(server_->port());
  c.send("POST /v1/documents/" + kUnknownId + "/archive HTTP/1.1\r\nHost: x\r\n\r\n" + kHealth);
  std::string bytes;
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    bytes += c.receive(100ms);
    return Exchange{bytes}.responses() == 2;
  }, 5s)) << bytes;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 404")) << bytes;
  EXPECT_NE(bytes.find("HTTP/1.1 200"), std::string::npos) << bytes;
  EXPECT_FALSE(c.closed_by_peer());
  // An upload without a body is a malformed form, refused at once.
  auto e = send(upload_head("", "Connection: close\r\n"));
  EXPECT_EQ(e.status(), 400) << e.bytes;
  expect_nothing_written();
}

TEST_P(HttpFramingTest, RoutesThatTakeNoBodyRefuseOneUnread) {
  start();
  for (const std::string& framing : {std::string("Content-Length: 5\r\n\r\nhello"),
                                     std::string("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")}) {
    for (const std::string& target : {std::string("/healthz"), "/v1/documents/" + kUnknownId + "/archive"}) {
      std::string method = target == "/healthz" ? "GET" : "POST";
      auto e = send(method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + framing + kHealth);
      EXPECT_EQ(e.status(), 413) << target << ": " << e.bytes;
      EXPECT_EQ(e.responses(), 1) << e.bytes;
      EXPECT_TRUE(e.closed);
    }
  }
}

TEST_P(HttpFramingTest, EncodedBodiesAreRefused) {
  start();
  const std::string body = good_upload_body();
  auto e = send(upload_head("Content-Length: " + std::to_string(body.size()) + "\r\n", "Content-Encoding: gzip\r\n") +
                body);
  EXPECT_EQ(e.status(), 415) << e.bytes;
  EXPECT_EQ(e.code(), "unsupported_media_type");
  EXPECT_TRUE(e.closed);
  expect_nothing_written();
  // identity is no encoding.
  e = send(upload_head("Content-Length: " + std::to_string(body.size()) + "\r\n",
                       "Content-Encoding: identity\r\nConnection: close\r\n") +
           body);
  EXPECT_EQ(e.status(), 201) << e.bytes;
}

TEST_P(HttpFramingTest, TheUploadLimitHoldsOnEveryFraming) {
  start();
  const std::string big = good_upload_body(std::string(kMaxUpload + 1, 'x'));
  const std::string huge = good_upload_body(std::string(kMaxUpload + 200 * 1000, 'x'));
  // Chunked: the file part over the limit, and the body over the limit.
  for (const auto* body : {&big, &huge}) {
    auto e = send(upload_head("Transfer-Encoding: chunked\r\n") + chunked(*body) + kHealth);
    EXPECT_EQ(e.status(), 413) << e.bytes.substr(0, 300);
    EXPECT_EQ(e.code(), "payload_too_large");
    EXPECT_EQ(e.responses(), 1);
    EXPECT_TRUE(e.closed);
    expect_nothing_written();
  }
  // Content-Length over the limit: refused from the head, the body unread.
  RawConnection c(server_->port());
  c.send(upload_head("Content-Length: " + std::to_string(huge.size()) + "\r\n"));
  auto answer = c.receive(3s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer;
  EXPECT_TRUE(c.closed_by_peer());
  // A large text field is not a way around it.
  auto e = send(upload_head("Transfer-Encoding: chunked\r\n") +
                chunked(multipart({{"entity_id", "", std::string(3 * 1000 * 1000, 'a')},
                                   {"entity_type", "", "issuer"},
                                   {"file", "a.pdf", "x"}})));
  EXPECT_TRUE(e.status() == 400 || e.status() == 413) << e.bytes.substr(0, 300);
  EXPECT_TRUE(e.closed);
  expect_nothing_written();
  // Chunked within the limit is served.
  e = send(upload_head("Transfer-Encoding: chunked\r\n", "Connection: close\r\n") +
           chunked(good_upload_body(std::string(kMaxUpload, 'y'))));
  EXPECT_EQ(e.status(), 201) << e.bytes.substr(0, 300);
}

TEST_P(HttpFramingTest, MultipartMistakesWriteNothing) {
  start();
  auto post = [&](const std::string& body, const std::string& boundary = "b0undary") {
    return send("POST /v1/documents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "Content-Type: multipart/form-data; boundary=" + boundary +
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  // The boundary in the body is not the announced one.
  auto e = post(good_upload_body(), "other");
  EXPECT_EQ(e.status(), 400) << e.bytes;
  // A field twice.
  e = post(multipart({{"entity_id", "", "issuer-1"}, {"entity_id", "", "issuer-2"}, {"entity_type", "", "issuer"},
                      {"file", "a.pdf", "x"}}));
  EXPECT_EQ(e.status(), 400) << e.bytes;
  e = post(multipart({{"entity_id", "", "issuer-1"}, {"entity_type", "", "issuer"}, {"file", "a.pdf", "x"},
                      {"file", "b.pdf", "y"}}));
  EXPECT_EQ(e.status(), 400) << e.bytes;
  // A field missing; the body cut before its close delimiter.
  e = post(multipart({{"entity_type", "", "issuer"}, {"file", "a.pdf", "x"}}));
  EXPECT_EQ(e.status(), 400) << e.bytes;
  auto cut = good_upload_body();
  e = post(cut.substr(0, cut.size() - 4));
  EXPECT_EQ(e.status(), 400) << e.bytes;
  // No boundary at all.
  e = post(good_upload_body(), "");
  EXPECT_EQ(e.status(), 415) << e.bytes;
  // Bidi overrides and C1 controls in a filename.
  for (const std::string& name : {std::string("invoice\u202Efdp.exe"), std::string("a\u2066b.pdf"),
                                  std::string("a\xc2\x85" "b.pdf"), std::string("a\x1b[31m.pdf")}) {
    e = post(multipart({{"entity_id", "", "issuer-1"}, {"entity_type", "", "issuer"}, {"file", name, "x"}}));
    EXPECT_EQ(e.status(), 400) << e.bytes;
    EXPECT_EQ(e.code(), "invalid_filename") << e.bytes;
  }
  expect_nothing_written();
  // Fields after the file work as well as before it.
  e = post(multipart({{"file", "a.pdf", "late fields"}, {"entity_id", "", "issuer-1"}, {"entity_type", "", "issuer"}}));
  EXPECT_EQ(e.status(), 201) << e.bytes;
}

TEST_P(HttpFramingTest, AReadOnlyTokenIsRefusedBeforeAnyBodyByte) {
  start({{"DOCVAULT_JWT_SECRET", kSecret}});
  const auto token = docvault::testing::jwt_hs256(kSecret, docvault::testing::claims("reader", "documents:read"));
  const long rss_before = server_rss_kib();
  RawConnection c(server_->port());
  // 256 MiB announced chunked; not one byte of it is sent before the answer.
  c.send(upload_head("Transfer-Encoding: chunked\r\n", "Authorization: Bearer " + token + "\r\n"));
  auto answer = c.receive(3s);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 403")) << answer;
  EXPECT_NE(answer.find("insufficient_scope"), std::string::npos) << answer;
  EXPECT_TRUE(c.closed_by_peer());
  // What the client pushes anyway is not kept.
  RawConnection pushy(server_->port());
  pushy.send(upload_head("Transfer-Encoding: chunked\r\n", "Authorization: Bearer " + token + "\r\n"));
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'x') + "\r\n";
  for (int i = 0; i < 256 && pushy.send(chunk); ++i) {
  }
  auto pushed = pushy.receive(3s);
  EXPECT_TRUE(pushed.starts_with("HTTP/1.1 403")) << pushed.substr(0, 200);
  EXPECT_LT(server_rss_kib() - rss_before, 32 * 1024) << "server RSS grew";
  expect_nothing_written();
  // Anonymous: 401, also before the body.
  RawConnection anonymous(server_->port());
  anonymous.send(upload_head("Transfer-Encoding: chunked\r\n"));
  EXPECT_TRUE(anonymous.receive(3s).starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(anonymous.closed_by_peer());
}

TEST_P(HttpFramingTest, SlowBodiesDoNotDelayOtherRequests) {
  start({{"DOCVAULT_HTTP_THREADS", "4"}});
  constexpr int kSlow = 40;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(slow.back()->connected());
    // Half on the upload route, half announcing a body to a route outside /v1.
    slow.back()->send(i % 2 == 0 ? upload_head("Content-Length: 100000\r\n")
                                 : "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop) {
      for (auto& c : slow) c->send("-");
      std::this_thread::sleep_for(200ms);  // the slowness under test, not a wait
    }
  });
  for (int i = 0; i < 5; ++i) {
    auto client = server_->client();
    client.set_read_timeout(5, 0);
    auto started = std::chrono::steady_clock::now();
    auto res = client.Get("/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "request " << i;
  }
  stop = true;
  trickle.join();
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& param) {
  return param.param == Backend::sqlite ? "sqlite" : "postgresql";
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpFramingTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         backend_name);

}  // namespace
}  // namespace docvault
