// A streaming multipart/form-data parser (RFC 7578 over RFC 2046's framing).
//
// Bytes go in as they arrive, in pieces of any size; parts come out as
// events: a part's headers, its data in pieces, its end. Nothing is held
// whole: the parser keeps at most one part's headers (kMaxPartHeaderBytes)
// and the few bytes that might begin a delimiter, so memory is bounded by the
// caller's read buffer, not by the body.
//
// Strict where it matters: the first delimiter must open the body (a
// preamble is skipped), a part must have a Content-Disposition of form-data
// with a name, headers are CRLF lines of "Name: value" (no folding), and the
// body must end with the close delimiter ("--boundary--"); anything else is
// malformed. The filename is the quoted value of `filename=` as sent; a
// browser escapes quotes in it as %22, and some clients send them raw, so a
// `filename="..."` parameter runs to the line's last quote, taken raw.
//
// Not thread-safe: one parser per request.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace docvault::http {

struct PartHeaders {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
};

class MultipartParser {
 public:
  static constexpr std::size_t kMaxPartHeaderBytes = 8192;
  static constexpr std::size_t kMaxParts = 64;

  // Each returns false to stop the parser (error() is then `stopped`).
  struct Callbacks {
    std::function<bool(const PartHeaders&)> on_part;
    std::function<bool(std::string_view data)> on_data;
    std::function<bool()> on_part_end;
  };

  enum class Error { none, malformed, stopped };

  // The boundary of a multipart/form-data Content-Type, or nothing when the
  // type is another or its boundary is missing or invalid (RFC 2046: 1 to 70
  // characters).
  static std::optional<std::string> boundary_of(std::string_view content_type);

  MultipartParser(std::string boundary, Callbacks callbacks);

  // The next bytes of the body; false once the body is malformed or a
  // callback stopped the parser (and for every call after that).
  bool feed(std::string_view bytes);
  // The body ended: true when it was complete (the close delimiter seen).
  bool finish();

  Error error() const { return error_; }

 private:
  enum class State { preamble, after_delimiter, headers, data, epilogue, failed };

  bool run();
  bool fail(Error error);
  bool parse_headers(std::string_view block);

  std::string delimiter_;  // "\r\n--" + boundary
  Callbacks callbacks_;
  std::string buffer_;
  State state_ = State::preamble;
  Error error_ = Error::none;
  std::size_t parts_ = 0;
};

}  // namespace docvault::http
