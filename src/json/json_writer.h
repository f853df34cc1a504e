// Writes JSON text directly into a string: no tree, one buffer. For the hot
// paths that only ever write (outgoing event payloads, SQS request bodies);
// everything that reads JSON uses nlohmann::json.
//
// Output is what nlohmann::json's dump() writes for the same values in the
// same order: no spaces, strings escaped the same way (the short escapes,
// \u00xx for other control characters, everything else, UTF-8 included, as
// it is). Callers keep keys unique and open/close balanced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace docvault::json {

// Appends `text` as a JSON string literal, quotes included.
void append_quoted(std::string& out, std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(std::size_t reserve) { out_.reserve(reserve); }

  // An object: as a value (after key(), or in an array) or the top level.
  JsonWriter& open();
  JsonWriter& close();
  JsonWriter& open_array();
  JsonWriter& close_array();
  // The next value's name, inside an object.
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view name, std::string_view value);
  JsonWriter& number(std::string_view name, std::uint64_t value);
  JsonWriter& optional_string(std::string_view name, const std::optional<std::string>& value);

  std::string finish() && { return std::move(out_); }

 private:
  void comma() {
    if (!first_) out_ += ',';
  }

  std::string out_;
  bool first_ = true;  // nothing written yet at this level: no comma before the next value
};

}  // namespace docvault::json
