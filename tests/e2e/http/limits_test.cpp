// Slow, idle, greedy and oversized clients against the real binary: they must
// not keep a normal request from being served, and each is cut off by its
// limit (tests/support/raw_connection.h misbehaves where an HTTP client
// cannot).
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "docvault_instance.h"
#include "raw_connection.h"

namespace docvault {
namespace {

using docvault::testing::Backend;
using docvault::testing::RawConnection;
using namespace std::chrono_literals;

class HttpLimitsTest : public ::testing::Test {
 protected:
  void start(std::map<std::string, std::string> env) {
    storage_.emplace(Backend::sqlite, dir_.path() / "var");
    env.try_emplace("ENABLE_DOCUMENT_CONSUMER", "false");
    server_.emplace(*storage_, dir_.path() / "serve.log", env);
    ASSERT_TRUE(server_->ready()) << server_->output();
  }
  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "--- docvault output ---\n" << server_->output();
  }
  // A normal request on a fresh connection; its status and how long it took.
  std::pair<int, std::chrono::milliseconds> normal_request() {
    auto client = server_->client();
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(5, 0);
    auto started = std::chrono::steady_clock::now();
    auto res = client.Get("/v1/documents?entity_id=issuer-1&entity_type=issuer");
    return {res ? res->status : -1,
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)};
  }

  docvault::testing::TempDir dir_;
  std::optional<docvault::testing::TestStorage> storage_;
  std::optional<docvault::testing::DocvaultInstance> server_;
};

TEST_F(HttpLimitsTest, TwoHundredSlowClientsDoNotStarveANormalRequest) {
  start({{"DOCVAULT_HTTP_THREADS", "4"}, {"DOCVAULT_HTTP_HEADER_TIMEOUT_SECONDS", "3"}});
  constexpr int kSlow = 200;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server_->port()));
    ASSERT_TRUE(slow.back()->connected());
  }
  // Each sends its request head a byte at a time, never finishing it.
  const std::string head = "GET /v1/documents?entity_id=issuer-1&entity_type=issuer HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> rounds{0};
  std::thread trickle([&] {
    for (std::size_t i = 0; !stop; ++i) {
      for (auto& c : slow) c->send(std::string(1, i < head.size() ? head[i] : 'a'));
      ++rounds;
      std::this_thread::sleep_for(50ms);  // the slowness under test, not a wait
    }
  });
  // Every slow client is mid-head once ten bytes each went out.
  EXPECT_TRUE(docvault::testing::wait_until([&] { return rounds >= 10; }, 10s));

  for (int i = 0; i < 5; ++i) {
    auto [status, took] = normal_request();
    EXPECT_EQ(status, 200);
    EXPECT_LT(took, 1000ms) << "request " << i;
  }
  stop = true;
  trickle.join();

  // Past the head deadline every slow client is told 408 and disconnected.
  int timed_out = 0;
  for (auto& c : slow) {
    auto response = c->receive(5s);
    timed_out += response.starts_with("HTTP/1.1 408") && c->closed_by_peer();
  }
  EXPECT_EQ(timed_out, kSlow);
  auto [status, took] = normal_request();
  EXPECT_EQ(status, 200);
}

TEST_F(HttpLimitsTest, ConnectionsBeyondTheBoundGet503) {
  start({{"DOCVAULT_HTTP_MAX_CONNECTIONS", "20"}, {"DOCVAULT_HTTP_HEADER_TIMEOUT_SECONDS", "30"}});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(std::make_unique<RawConnection>(server_->port()));
  ASSERT_TRUE(docvault::testing::wait_until([&] {
    RawConnection extra(server_->port());
    auto response = extra.receive(1s);
    return response.starts_with("HTTP/1.1 503") && extra.closed_by_peer();
  }));
  idle.clear();  // closing them frees their places
  ASSERT_TRUE(docvault::testing::wait_until([&] { return normal_request().first == 200; }));
}

TEST_F(HttpLimitsTest, IdleKeepAliveConnectionsAreClosed) {
  start({{"DOCVAULT_HTTP_KEEPALIVE_TIMEOUT_SECONDS", "1"}});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto response = c.receive(1500ms);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
  EXPECT_TRUE(c.closed_by_peer());  // within the keep-alive timeout (plus the gate's tick)
}

TEST_F(HttpLimitsTest, PipelinedRequestsAreAllAnswered) {
  start({});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto response = c.receive(5s);
  std::size_t answers = 0;
  for (auto at = response.find("HTTP/1.1 200"); at != std::string::npos; at = response.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 3u) << response;
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(HttpLimitsTest, OversizedHeadersGet431) {
  start({{"DOCVAULT_HTTP_MAX_HEADER_BYTES", "4096"}});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n"));
  auto response = c.receive(5s);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 431")) << response.substr(0, 200);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(normal_request().first, 200);
}

TEST_F(HttpLimitsTest, ABodyThatStopsComingIsCutOff) {
  start({{"DOCVAULT_HTTP_READ_TIMEOUT_SECONDS", "1"}});
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     "Content-Length: 100000\r\n\r\n--x\r\n"));
  auto started = std::chrono::steady_clock::now();
  c.receive(5s);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

}  // namespace
}  // namespace docvault
