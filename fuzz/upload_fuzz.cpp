// Fuzzes the upload path end to end in one process: Beast's request parser,
// docvault's framing checks and streaming multipart parser feeding its routes (the upload handler,
// validate_upload, DocumentService, a SQLite store and a filesystem blob store
// in a temporary directory). Each input is the raw bytes a client sends,
// written to the server over a loopback connection; the server is started
// once.
//
// Two substitutions keep mutated inputs meaningful:
//   - "Content-Length: ?" becomes the real length of what follows the first
//     blank line, so a mutated body keeps its framing (any other
//     Content-Length is sent as is, to fuzz the framing too);
//   - "{id}" becomes the id of a document uploaded at start-up, so downloads
//     (Range, If-None-Match, Content-Disposition) reach a real document.
// Every Range header value and multipart filename in the input also goes
// straight through parse_byte_range and content_disposition.
//
// Checked: no crash, leak or UB anywhere in the process; every response is
// HTTP and none is a 500 (hostile input must get a 4xx, not an exception);
// ranges stay inside the content; Content-Disposition is printable ASCII.
//
// Beast and Asio are header-only, so the request parser is instrumented and
// guides the fuzzer like docvault's own code.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "blob/filesystem_blob_store.h"
#include "domain/clock.h"
#include "domain/document.h"
#include "domain/events.h"
#include "fuzz_check.h"
#include "http/document_routes.h"
#include "http/server.h"
#include "log/log.h"
#include "service/document_service.h"
#include "store/store.h"

namespace {

using namespace docvault;
using docvault::fuzz::check;

// Built once and never destroyed: the server's threads must not meet static
// destruction. Only the temporary directory is removed at exit.
struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<blob::FilesystemBlobStore> blobs;
  SystemClock clock;
  std::unique_ptr<service::DocumentService> documents;
  std::unique_ptr<http::HttpServer> server;
  std::string document_id;
};
Fixture* fixture = nullptr;

void remove_fixture_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(fixture->dir, ignored);
}

std::filesystem::path make_temp_dir() {
  // /dev/shm when there is one: every upload fsyncs, and memory makes that cheap.
  std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                          : std::filesystem::temp_directory_path();
  std::string pattern = (base / "docvault-upload-fuzz.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("upload_fuzz: mkdtemp");
    std::abort();
  }
  return pattern;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;  // libFuzzer's timeout alarm
    if (sent <= 0) return;  // the server may answer and close before reading it all
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

// Sends `request`, half-closes, and reads until the server closes.
std::string exchange(std::string_view request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(fixture->server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    // Interrupted by libFuzzer's timeout alarm, the connection completes on its own.
    int error = errno;
    if (error == EINTR) {
      pollfd writable{fd, POLLOUT, 0};
      while (::poll(&writable, 1, 10000) < 0 && errno == EINTR) {
      }
      socklen_t length = sizeof error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error != 0) {
      errno = error;
      std::perror("upload_fuzz: connect");
      std::abort();
    }
  }
  send_all(fd, request);
  ::shutdown(fd, SHUT_WR);
  std::string response;
  char buffer[16384];
  for (;;) {
    auto got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    response.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return response;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

std::string prepare_request(std::string_view input) {
  std::string request(input);
  replace_all(request, "{id}", fixture->document_id);
  constexpr std::string_view kAutoLength = "Content-Length: ?\r\n";
  auto head_end = request.find("\r\n\r\n");
  auto auto_length = request.find(kAutoLength);
  if (head_end != std::string::npos && auto_length != std::string::npos && auto_length < head_end) {
    auto body_size = request.size() - (head_end + 4) - (kAutoLength.size() - 1);
    request.replace(auto_length, kAutoLength.size(), "Content-Length: " + std::to_string(body_size) + "\r\n");
  }
  return request;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

void check_range_parser(std::string_view value) {
  for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{12}, UINT64_MAX}) {
    auto range = http::parse_byte_range(value, size);
    if (range.kind == http::ByteRangeRequest::Kind::partial) {
      check(range.length >= 1 && range.offset < size && range.length <= size - range.offset);
    }
  }
}

void check_content_disposition(std::string_view filename) {
  auto header = http::content_disposition(filename);
  for (unsigned char c : header) check(c >= 0x20 && c < 0x7f);
  // Exactly the two quotes around the ASCII fallback: a name cannot close it early.
  auto quotes = std::count(header.begin(), header.end(), '"');
  check(quotes == 2);
}

// The header values and filenames of the input, straight to the parsers.
void check_fields(std::string_view input) {
  for (std::size_t start = 0; start < input.size();) {
    auto end = input.find('\n', start);
    auto line = input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (iequals_prefix(line, "range:")) {
      auto value = line.substr(6);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      check_range_parser(value);
    }
    if (auto name = line.find("filename=\""); name != std::string_view::npos) {
      auto rest = line.substr(name + 10);
      check_content_disposition(rest.substr(0, rest.find('"')));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::init(log::Level::error, log::Format::text);
  fixture = new Fixture;
  fixture->dir = make_temp_dir();
  std::atexit(remove_fixture_dir);
  fixture->store = store::open_store(store::StoreOptions{"", fixture->dir / "docvault.sqlite3", 4});
  fixture->store->migrate();
  fixture->blobs = std::make_unique<blob::FilesystemBlobStore>(fixture->dir / "blobs");
  fixture->documents = std::make_unique<service::DocumentService>(*fixture->store, *fixture->blobs, fixture->clock);
  auto seeded = fixture->documents->create(
      DocumentUpload{"issuer-1", "issuer", std::nullopt, "hello \"vault\".txt", "text/plain"}, "hello vault\n",
      Actor::anonymous());
  check(seeded.ok());
  fixture->document_id = seeded->id;

  http::HttpOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.max_upload_bytes = 64 * 1024;
  fixture->server = std::make_unique<http::HttpServer>(*fixture->documents, std::move(options));
  fixture->server->start();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_fields(input);
  auto response = exchange(prepare_request(input));
  if (!response.empty()) check(response.starts_with("HTTP/1.1 "));
  check(!response.starts_with("HTTP/1.1 500") && response.find("\nHTTP/1.1 500") == std::string::npos);
  return 0;
}
