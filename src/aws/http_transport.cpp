#include "aws/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <exception>
#include <stdexcept>
#include <utility>

namespace docvault::aws {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

void ensure_curl_initialised() {
  // curl_global_init is not thread-safe; every transport goes through here first.
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (result != CURLE_OK) throw std::runtime_error("curl_global_init failed");
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

void append_header(HeaderList& list, const std::string& line) {
  curl_slist* appended = curl_slist_append(list.get(), line.c_str());
  if (appended == nullptr) throw std::bad_alloc();
  (void)list.release();
  list.reset(appended);
}

// One request in a multi handle: what the curl callbacks write to, and what
// the request and its header list need kept alive while it runs.
struct Transfer {
  ConcurrentRequests::Tag tag = 0;
  const HttpRequest* request = nullptr;  // borrowed
  CURL* easy = nullptr;
  HeaderList header_list;
  HttpResponse response;
  const BodySink* sink = nullptr;  // null: collect the body
  long status = 0;                 // of the latest status line
  bool sink_stopped = false;       // the sink asked to stop (not a failure)
  std::exception_ptr sink_error;   // the sink threw; the transfer's error
  char error_buffer[CURL_ERROR_SIZE] = {};
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* out) {
  auto* transfer = static_cast<Transfer*>(out);
  std::string_view chunk(data, size * count);
  if (transfer->sink == nullptr || transfer->status < 200 || transfer->status >= 300) {
    transfer->response.body.append(chunk);
    return chunk.size();
  }
  // Returning a short count makes curl end the transfer (CURLE_WRITE_ERROR);
  // exceptions must not cross curl's C frames.
  try {
    if ((*transfer->sink)(chunk)) return chunk.size();
    transfer->sink_stopped = true;
  } catch (...) {
    transfer->sink_error = std::current_exception();
  }
  return 0;
}

// "HTTP/1.1 206 Partial Content" -> 206; 0 when unreadable.
long status_of(std::string_view status_line) {
  auto space = status_line.find(' ');
  if (space == std::string_view::npos) return 0;
  long status = 0;
  for (char c : status_line.substr(space + 1, 3)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* out) {
  auto* transfer = static_cast<Transfer*>(out);
  auto* response = &transfer->response;
  std::string_view line(data, size * count);
  // A new status line (after a 100 Continue, say) starts a new header block.
  if (line.starts_with("HTTP/")) {
    response->headers.clear();
    transfer->status = status_of(line);
    return line.size();
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  auto trim = [](std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
      text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.remove_suffix(1);
    }
    return text;
  };
  response->headers.push_back(
      {std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
  return line.size();
}

}  // namespace

const std::string* HttpResponse::header(std::string_view name) const {
  for (const auto& header : headers) {
    if (equals_ignoring_case(header.name, name)) return &header.value;
  }
  return nullptr;
}

RequestCancelled::RequestCancelled()
    : AwsError(0, "RequestCancelled", "the request was cancelled before it completed") {}

std::unique_ptr<ConcurrentRequests> HttpTransport::concurrent() {
  // One at a time: wait() sends the oldest request started.
  class Sequential final : public ConcurrentRequests {
   public:
    explicit Sequential(HttpTransport& transport) : transport_(transport) {}
    void start(Tag tag, const HttpRequest& request) override { queue_.push_back({tag, &request}); }
    std::vector<Done> wait(std::chrono::milliseconds, std::stop_token stop) override {
      std::vector<Done> done;
      if (queue_.empty()) return done;
      const auto [tag, request] = queue_.front();
      queue_.pop_front();
      done.push_back({tag, {}, nullptr});
      try {
        done.back().response = transport_.send(*request, stop);
      } catch (...) {
        done.back().error = std::current_exception();
      }
      if (stop.stop_requested()) {
        for (auto& queued : queue_) done.push_back({queued.first, {}, std::make_exception_ptr(RequestCancelled())});
        queue_.clear();
      }
      return done;
    }
    std::size_t in_flight() const override { return queue_.size(); }

   private:
    HttpTransport& transport_;
    std::deque<std::pair<Tag, const HttpRequest*>> queue_;
  };
  return std::make_unique<Sequential>(*this);
}

// Idle connections a multi handle keeps open: room for the relay's most
// calls in flight to one destination (32 lanes) and then some.
constexpr std::size_t kMaxIdleConnections = 64;

// A curl multi handle and the transfers in it. curl_multi_poll and
// curl_multi_wakeup are also the only thread-safe way to interrupt a
// transfer; and the multi handle holds the connection cache, so keeping it
// (in the pool, or for a ConcurrentRequests' life) keeps connections warm.
// Easy handles are kept for reuse once their transfer ended.
class CurlTransport::Requests final : public ConcurrentRequests {
 public:
  explicit Requests(const CurlTransportOptions& options) : options_(options), multi_(curl_multi_init()) {
    if (multi_ == nullptr) throw std::bad_alloc();
    // curl's default keeps 4 idle connections per transfer in flight at the
    // moment one ends, so the last calls of a round would close the others'
    // connections, and the next round open (and on https, handshake) them again.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(kMaxIdleConnections));
  }
  ~Requests() override {
    for (auto& transfer : active_) {
      curl_multi_remove_handle(multi_, transfer->easy);
      finish(transfer->easy);
    }
    for (CURL* easy : idle_easy_) curl_easy_cleanup(easy);
    curl_multi_cleanup(multi_);
  }
  Requests(const Requests&) = delete;
  Requests& operator=(const Requests&) = delete;

  void start(Tag tag, const HttpRequest& request) override {
    auto transfer = std::make_unique<Transfer>();
    transfer->request = &request;
    begin(tag, std::move(transfer));
  }

  std::vector<Done> wait(std::chrono::milliseconds max_wait, std::stop_token stop) override {
    std::vector<Done> done;
    if (active_.empty()) return done;
    {
      // Wakes curl_multi_poll from the thread that requests the stop; the
      // callback's destructor waits for a wakeup already running there.
      std::stop_callback wake(stop, [multi = multi_] { curl_multi_wakeup(multi); });
      perform(done);
      if (done.empty() && !active_.empty() && !stop.stop_requested() && !broken_) {
        // Bounded by curl's own timers too; a wakeup or any socket event ends it early.
        const auto wait_ms = std::clamp<std::chrono::milliseconds::rep>(max_wait.count(), 0, 1000);
        curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait_ms), nullptr);
        perform(done);
      }
    }
    if (stop.stop_requested()) {
      // Removing an unfinished transfer closes its connection rather than pooling it.
      for (auto& transfer : active_) {
        curl_multi_remove_handle(multi_, transfer->easy);
        done.push_back({transfer->tag, {}, std::make_exception_ptr(RequestCancelled())});
        finish(transfer->easy);
      }
      active_.clear();
    }
    return done;
  }

  std::size_t in_flight() const override { return active_.size(); }

  // The multi handle failed as a whole: its state is unknown, never pool it.
  bool broken() const { return broken_; }

 private:
  void begin(Tag tag, std::unique_ptr<Transfer> transfer) {
    transfer->tag = tag;
    if (!idle_easy_.empty()) {
      transfer->easy = idle_easy_.back();
      idle_easy_.pop_back();
    } else {
      transfer->easy = curl_easy_init();
      if (transfer->easy == nullptr) throw std::bad_alloc();
    }
    try {
      configure(*transfer);
    } catch (...) {
      finish(transfer->easy);
      throw;
    }
    if (curl_multi_add_handle(multi_, transfer->easy) != CURLM_OK) {
      finish(transfer->easy);
      throw AwsError(0, "NetworkError", "could not start the transfer");
    }
    active_.push_back(std::move(transfer));
  }

  void configure(Transfer& transfer) {
    const HttpRequest& request = *transfer.request;
    CURL* easy = transfer.easy;
    for (const auto& header : request.headers) append_header(transfer.header_list, header.name + ": " + header.value);
    // Without this curl waits up to a second for "100 Continue" before large bodies.
    append_header(transfer.header_list, "Expect:");
    if (request.body_sink) transfer.sink = &request.body_sink;
    auto timeout = request.timeout.count() > 0 ? request.timeout : options_.request_timeout;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.error_buffer);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    if (!options_.use_proxy) curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer.header_list.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    const std::string_view body = request.payload();
    if (request.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (request.method == "DELETE" && body.empty()) {
      // No POSTFIELDS: curl would add a form Content-Type to a bodiless request.
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      // POSTFIELDS with an explicit size sends binary bodies intact; curl
      // does not copy it, and the request outlives the transfer.
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      if (request.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  }

  // Runs curl and moves the transfers that ended into `done`.
  void perform(std::vector<Done>& done) {
    if (broken_) return;
    int running = 0;
    const CURLMcode code = curl_multi_perform(multi_, &running);
    if (code != CURLM_OK) {
      broken_ = true;
      for (auto& transfer : active_) {
        curl_multi_remove_handle(multi_, transfer->easy);
        done.push_back({transfer->tag, {}, std::make_exception_ptr(AwsError(0, "NetworkError", curl_multi_strerror(code)))});
        finish(transfer->easy);
      }
      active_.clear();
      return;
    }
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode result = message->data.result;
      auto it = std::find_if(active_.begin(), active_.end(), [easy](const auto& t) { return t->easy == easy; });
      if (it == active_.end()) continue;
      auto transfer = std::move(*it);
      active_.erase(it);
      // A transfer that ended early (an error, a sink that stopped or threw)
      // has its connection closed by curl, never reused with a body unread.
      curl_multi_remove_handle(multi_, easy);
      done.push_back(outcome(*transfer, result));
      finish(easy);
    }
  }

  Done outcome(Transfer& transfer, CURLcode result) {
    Done done{transfer.tag, {}, nullptr};
    const HttpRequest& request = *transfer.request;
    if (transfer.sink_error) {
      done.error = transfer.sink_error;
    } else if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && transfer.sink_stopped)) {
      std::string detail = transfer.error_buffer[0] != '\0' ? transfer.error_buffer : curl_easy_strerror(result);
      done.error = std::make_exception_ptr(AwsError(0, "NetworkError", request.method + " " + request.url + ": " + detail));
    } else {
      done.response = std::move(transfer.response);
      curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &done.response.status);
    }
    return done;
  }

  // Keeps an easy handle whose transfer left the multi handle, forgetting the
  // transfer (its buffers, headers and error buffer are about to go).
  void finish(CURL* easy) {
    curl_easy_reset(easy);
    idle_easy_.push_back(easy);
  }

  const CurlTransportOptions options_;
  CURLM* multi_;
  std::vector<std::unique_ptr<Transfer>> active_;
  std::vector<CURL*> idle_easy_;
  bool broken_ = false;
};

CurlTransport::CurlTransport(CurlTransportOptions options) : options_(std::move(options)) {
  ensure_curl_initialised();
}

CurlTransport::~CurlTransport() = default;

std::unique_ptr<CurlTransport::Requests> CurlTransport::acquire() {
  {
    runtime::MutexLock lock(pool_mutex_);
    if (!idle_.empty()) {
      auto requests = std::move(idle_.back());
      idle_.pop_back();
      return requests;
    }
  }
  return std::make_unique<Requests>(options_);
}

void CurlTransport::release(std::unique_ptr<Requests> requests) {
  if (requests->broken()) return;
  runtime::MutexLock lock(pool_mutex_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(requests));
}

std::unique_ptr<ConcurrentRequests> CurlTransport::concurrent() {
  // A multi handle from the pool, given back (with its connections) when done.
  class Pooled final : public ConcurrentRequests {
   public:
    Pooled(CurlTransport& transport, std::unique_ptr<Requests> requests)
        : transport_(transport), requests_(std::move(requests)) {}
    ~Pooled() override {
      if (requests_->in_flight() == 0) transport_.release(std::move(requests_));
    }
    Pooled(const Pooled&) = delete;
    Pooled& operator=(const Pooled&) = delete;
    void start(Tag tag, const HttpRequest& request) override { requests_->start(tag, request); }
    std::vector<Done> wait(std::chrono::milliseconds max_wait, std::stop_token stop) override {
      return requests_->wait(max_wait, stop);
    }
    std::size_t in_flight() const override { return requests_->in_flight(); }

   private:
    CurlTransport& transport_;
    std::unique_ptr<Requests> requests_;
  };
  return std::make_unique<Pooled>(*this, acquire());
}

HttpResponse CurlTransport::send(const HttpRequest& request, std::stop_token stop) {
  if (stop.stop_requested()) throw RequestCancelled();
  auto requests = concurrent();
  requests->start(0, request);
  std::vector<ConcurrentRequests::Done> done;
  while (done.empty()) done = requests->wait(std::chrono::seconds(1), stop);
  if (done.front().error) std::rethrow_exception(done.front().error);
  return std::move(done.front().response);
}

}  // namespace docvault::aws
