#include "json/json_writer.h"

#include <array>

namespace docvault::json {
namespace {

// Bytes that cannot appear as they are inside a JSON string.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = true;
  table['\\'] = true;
  return table;
}();

void append_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default: {
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out.append(escaped, 6);
    }
  }
}

}  // namespace

void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    // Runs that need no escape go in at once.
    std::size_t run = i;
    while (run < text.size() && !kNeedsEscape[static_cast<unsigned char>(text[run])]) ++run;
    out.append(text.data() + i, run - i);
    if (run == text.size()) break;
    append_escape(out, static_cast<unsigned char>(text[run]));
    i = run + 1;
  }
  out += '"';
}

JsonWriter& JsonWriter::open() {
  comma();
  out_ += '{';
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::close() {
  out_ += '}';
  first_ = false;
  return *this;
}

JsonWriter& JsonWriter::open_array() {
  comma();
  out_ += '[';
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::close_array() {
  out_ += ']';
  first_ = false;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  comma();
  append_quoted(out_, name);
  out_ += ':';
  first_ = true;  // the value needs no comma
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view name, std::string_view value) {
  key(name);
  first_ = false;
  append_quoted(out_, value);
  return *this;
}

JsonWriter& JsonWriter::number(std::string_view name, std::uint64_t value) {
  key(name);
  first_ = false;
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::optional_string(std::string_view name, const std::optional<std::string>& value) {
  if (value) return string(name, *value);
  key(name);
  first_ = false;
  out_ += "null";
  return *this;
}

}  // namespace docvault::json
