#include "http/multipart.h"

#include <algorithm>
#include <cctype>

#include "http/message.h"

namespace docvault::http {
namespace {

constexpr std::string_view kHeaderEnd = "\r\n\r\n";
constexpr std::size_t kMaxPadding = 64;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool boundary_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// Reads a quoted-string at the start of `text` (after the opening quote);
// the value and how many bytes it took, closing quote included.
std::optional<std::pair<std::string, std::size_t>> quoted(std::string_view text) {
  std::string value;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      value.push_back(text[++i]);
    } else if (text[i] == '"') {
      return std::pair{std::move(value), i + 1};
    } else {
      value.push_back(text[i]);
    }
  }
  return std::nullopt;
}

// Parameters of a header value after its first token: `; key=value` or
// `; key="value"`. Calls visit(key, value); false on a syntax error.
template <typename Visit>
bool parse_parameters(std::string_view rest, Visit visit) {
  while (true) {
    rest = trim(rest);
    if (rest.empty()) return true;
    if (rest.front() != ';') return false;
    rest = trim(rest.substr(1));
    if (rest.empty()) return true;
    auto eq = rest.find('=');
    if (eq == std::string_view::npos) return false;
    auto key = trim(rest.substr(0, eq));
    rest = trim(rest.substr(eq + 1));
    if (!rest.empty() && rest.front() == '"' && iequals(key, "filename")) {
      // Taken raw up to the line's last quote: clients send quotes and
      // backslashes in names unescaped (browsers write a quote as %22).
      auto last = rest.find_last_of('"');
      if (last == 0) return false;
      auto after = trim(rest.substr(last + 1));
      if (!after.empty() && after.front() != ';') return false;
      visit(key, std::string(rest.substr(1, last - 1)));
      rest = after;
    } else if (!rest.empty() && rest.front() == '"') {
      auto value = quoted(rest.substr(1));
      if (!value) return false;
      visit(key, std::move(value->first));
      rest = rest.substr(1 + value->second);
    } else {
      auto end = rest.find(';');
      visit(key, std::string(trim(rest.substr(0, end))));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
  }
}

}  // namespace

std::optional<std::string> MultipartParser::boundary_of(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semicolon)), "multipart/form-data")) return std::nullopt;
  if (semicolon == std::string_view::npos) return std::nullopt;
  std::optional<std::string> boundary;
  bool twice = false;
  bool ok = parse_parameters(content_type.substr(semicolon), [&](std::string_view key, std::string value) {
    if (!iequals(key, "boundary")) return;
    twice = twice || boundary.has_value();
    boundary = std::move(value);
  });
  if (!ok || twice || !boundary || boundary->empty() || boundary->size() > 70 || boundary->back() == ' ') {
    return std::nullopt;
  }
  if (!std::all_of(boundary->begin(), boundary->end(), boundary_char)) return std::nullopt;
  return boundary;
}

MultipartParser::MultipartParser(std::string boundary, Callbacks callbacks)
    : delimiter_("\r\n--" + boundary), callbacks_(std::move(callbacks)), buffer_("\r\n") {
  // The CRLF before the first delimiter is its own: a body may begin with
  // "--boundary" directly.
}

bool MultipartParser::fail(Error error) {
  state_ = State::failed;
  error_ = error;
  buffer_.clear();
  buffer_.shrink_to_fit();
  return false;
}

bool MultipartParser::feed(std::string_view bytes) {
  if (state_ == State::failed) return false;
  if (state_ == State::epilogue) return true;  // after the close delimiter: ignored
  buffer_.append(bytes);
  return run();
}

bool MultipartParser::finish() {
  if (state_ == State::failed) return false;
  if (state_ != State::epilogue) return fail(Error::malformed);
  return true;
}

bool MultipartParser::run() {
  const std::size_t keep = delimiter_.size() - 1;  // bytes that may begin a delimiter
  while (true) {
    switch (state_) {
      case State::preamble: {
        auto at = buffer_.find(delimiter_);
        if (at == std::string::npos) {
          if (buffer_.size() > keep) buffer_.erase(0, buffer_.size() - keep);
          return true;
        }
        buffer_.erase(0, at + delimiter_.size());
        state_ = State::after_delimiter;
        break;
      }
      case State::after_delimiter: {
        if (buffer_.size() < 2) return true;
        if (buffer_.starts_with("--")) {
          if (parts_ == 0) return fail(Error::malformed);  // a body with no part at all
          state_ = State::epilogue;
          buffer_.clear();
          return true;
        }
        std::size_t i = 0;
        while (i < buffer_.size() && (buffer_[i] == ' ' || buffer_[i] == '\t')) ++i;
        if (i > kMaxPadding) return fail(Error::malformed);
        if (buffer_.size() < i + 2) return true;
        if (buffer_.compare(i, 2, "\r\n") != 0) return fail(Error::malformed);
        buffer_.erase(0, i + 2);
        state_ = State::headers;
        break;
      }
      case State::headers: {
        std::size_t end = 0;
        std::size_t skip = 0;
        if (buffer_.starts_with("\r\n")) {
          end = 0;
          skip = 2;
        } else {
          auto at = buffer_.find(kHeaderEnd);
          if (at == std::string::npos) {
            // No end within the limit can come any more.
            if (buffer_.size() >= kMaxPartHeaderBytes + kHeaderEnd.size()) return fail(Error::malformed);
            return true;
          }
          end = at;
          skip = at + kHeaderEnd.size();
        }
        if (end > kMaxPartHeaderBytes) return fail(Error::malformed);
        if (++parts_ > kMaxParts) return fail(Error::malformed);
        if (!parse_headers(std::string_view(buffer_).substr(0, end))) return false;
        buffer_.erase(0, skip);
        state_ = State::data;
        break;
      }
      case State::data: {
        auto at = buffer_.find(delimiter_);
        if (at == std::string::npos) {
          if (buffer_.size() > keep) {
            auto emit = buffer_.size() - keep;
            if (!callbacks_.on_data(std::string_view(buffer_).substr(0, emit))) return fail(Error::stopped);
            buffer_.erase(0, emit);
          }
          return true;
        }
        if (at > 0 && !callbacks_.on_data(std::string_view(buffer_).substr(0, at))) return fail(Error::stopped);
        if (!callbacks_.on_part_end()) return fail(Error::stopped);
        buffer_.erase(0, at + delimiter_.size());
        state_ = State::after_delimiter;
        break;
      }
      case State::epilogue:
        buffer_.clear();
        return true;
      case State::failed:
        return false;
    }
  }
}

bool MultipartParser::parse_headers(std::string_view block) {
  PartHeaders part;
  bool disposition = false;
  while (!block.empty()) {
    auto eol = block.find("\r\n");
    auto line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view() : block.substr(eol + 2);
    if (line.empty() || line.front() == ' ' || line.front() == '\t') return fail(Error::malformed);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(Error::malformed);
    auto name = line.substr(0, colon);
    if (trim(name).size() != name.size()) return fail(Error::malformed);
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Disposition")) {
      if (disposition) return fail(Error::malformed);
      disposition = true;
      auto semicolon = value.find(';');
      if (!iequals(trim(value.substr(0, semicolon)), "form-data")) return fail(Error::malformed);
      bool has_name = false;
      bool repeated = false;
      bool ok = semicolon == std::string_view::npos ||
                parse_parameters(value.substr(semicolon), [&](std::string_view key, std::string v) {
                  if (iequals(key, "name")) {
                    repeated = repeated || has_name;
                    has_name = true;
                    part.name = std::move(v);
                  } else if (iequals(key, "filename")) {
                    repeated = repeated || part.filename.has_value();
                    part.filename = std::move(v);
                  }
                });
      if (!ok || !has_name || repeated) return fail(Error::malformed);
    } else if (iequals(name, "Content-Type")) {
      part.content_type = std::string(value);
    }
  }
  if (!disposition) return fail(Error::malformed);
  if (!callbacks_.on_part(part)) return fail(Error::stopped);
  return true;
}

}  // namespace docvault::http
