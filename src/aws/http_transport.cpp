#include "aws/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
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

// What the curl callbacks of one transfer write to.
struct Transfer {
  HttpResponse* response = nullptr;
  const BodySink* sink = nullptr;  // null: collect the body
  long status = 0;                 // of the latest status line
  bool sink_stopped = false;       // the sink asked to stop (not a failure)
  std::exception_ptr sink_error;   // the sink threw; rethrown after the transfer
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* out) {
  auto* transfer = static_cast<Transfer*>(out);
  std::string_view chunk(data, size * count);
  if (transfer->sink == nullptr || transfer->status < 200 || transfer->status >= 300) {
    transfer->response->body.append(chunk);
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
  auto* response = transfer->response;
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

// The multi handle exists for curl_multi_poll/curl_multi_wakeup, the only
// thread-safe way to interrupt a transfer; it also holds the connection cache,
// so keeping the pair together keeps its connections warm.
struct CurlTransport::Handles {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;

  Handles() : multi(curl_multi_init()), easy(curl_easy_init()) {
    if (multi == nullptr || easy == nullptr) {
      cleanup();
      throw std::bad_alloc();
    }
  }
  ~Handles() { cleanup(); }
  void cleanup() noexcept {
    if (easy != nullptr) {
      // Drops the pointers into the last request's stack frame first.
      curl_easy_reset(easy);
      curl_easy_cleanup(easy);
    }
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;
};

CurlTransport::CurlTransport(CurlTransportOptions options) : options_(std::move(options)) {
  ensure_curl_initialised();
}

CurlTransport::~CurlTransport() = default;

std::unique_ptr<CurlTransport::Handles> CurlTransport::acquire() {
  {
    runtime::MutexLock lock(pool_mutex_);
    if (!idle_.empty()) {
      auto handles = std::move(idle_.back());
      idle_.pop_back();
      return handles;
    }
  }
  return std::make_unique<Handles>();
}

void CurlTransport::release(std::unique_ptr<Handles> handles) {
  // Forgets the finished request (its buffers, headers and error buffer are
  // about to go); open connections stay.
  curl_easy_reset(handles->easy);
  runtime::MutexLock lock(pool_mutex_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handles));
}

HttpResponse CurlTransport::send(const HttpRequest& request, std::stop_token stop) {
  if (stop.stop_requested()) throw RequestCancelled();
  auto handles = acquire();
  CURL* easy = handles->easy;

  HeaderList header_list;
  for (const auto& header : request.headers) append_header(header_list, header.name + ": " + header.value);
  // Without this curl waits up to a second for "100 Continue" before large bodies.
  append_header(header_list, "Expect:");

  HttpResponse response;
  Transfer transfer;
  transfer.response = &response;
  if (request.body_sink) transfer.sink = &request.body_sink;
  char error_buffer[CURL_ERROR_SIZE] = {};
  auto timeout = request.timeout.count() > 0 ? request.timeout : options_.request_timeout;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  if (!options_.use_proxy) curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  std::string_view body = request.body_view.empty() ? std::string_view(request.body) : request.body_view;
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method == "DELETE" && body.empty()) {
    // No POSTFIELDS: curl would add a form Content-Type to a bodiless request.
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    // POSTFIELDS with an explicit size sends binary bodies intact; curl does
    // not copy it, and `request` outlives the transfer.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (request.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLM* multi = handles->multi;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
    throw AwsError(0, "NetworkError", "could not start the transfer");
  }
  bool cancelled = false;
  CURLcode result = CURLE_OK;
  CURLMcode multi_code = CURLM_OK;
  {
    // Wakes curl_multi_poll below from the thread that requests the stop. Its
    // scope ends before the handles go back to the pool (or are freed), and
    // its destructor waits for a wakeup already running on another thread.
    std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
    bool done = false;
    while (!done) {
      int running = 0;
      multi_code = curl_multi_perform(multi, &running);
      if (multi_code != CURLM_OK) break;
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
          result = message->data.result;
          done = true;
        }
      }
      if (done) break;
      if (stop.stop_requested()) {
        cancelled = true;
        break;
      }
      // The wait is bounded by curl's own timers; a wakeup ends it early.
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
  }
  // Removing an unfinished transfer closes its connection rather than pooling it.
  curl_multi_remove_handle(multi, easy);
  if (multi_code != CURLM_OK) {
    // The multi handle's state is unknown: drop it rather than pool it.
    throw AwsError(0, "NetworkError", curl_multi_strerror(multi_code));
  }
  if (cancelled) {
    release(std::move(handles));
    throw RequestCancelled();
  }
  if (transfer.sink_error) {
    // The connection may hold the rest of an unread body: do not pool it.
    std::rethrow_exception(transfer.sink_error);
  }
  if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && transfer.sink_stopped)) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
    release(std::move(handles));
    throw AwsError(0, "NetworkError", request.method + " " + request.url + ": " + detail);
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  if (transfer.sink_stopped) {
    // The rest of the body is still on the wire: drop the handles, not reuse them.
    return response;
  }
  release(std::move(handles));
  return response;
}

}  // namespace docvault::aws
