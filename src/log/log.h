// Structured logs: one line per event, JSON by default, text for humans.
//
// Every line carries a timestamp, a level, a `component` (the spec's
// operators search for component=DocumentVaultConsumer) and a message, plus
// any fields the caller adds. JSON lines look like
//   {"ts":"...","level":"info","component":"http","message":"request","status":200}
// and text lines like
//   2025-10-23T12:34:56.789Z info component=http request status=200
// Secrets are never passed here; callers log redacted forms.
//
// Thread-safe: spdlog serialises writes. init() is called once at start-up,
// before other threads exist.
#pragma once

#include <initializer_list>
#include <span>
#include <string_view>

#include <nlohmann/json.hpp>

namespace docvault::log {

enum class Level { trace, debug, info, warn, error };
enum class Format { json, text };

struct Field {
  std::string_view key;
  nlohmann::json value;
};
using Fields = std::initializer_list<Field>;

void init(Level level, Format format);
bool enabled(Level level);

// One line; `fields` follow the message in order (a caller whose fields are
// known only at run time passes a vector).
void write(Level level, std::string_view component, std::string_view message, std::span<const Field> fields = {});

inline void debug(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::debug, component, message, {fields.begin(), fields.size()});
}
inline void info(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::info, component, message, {fields.begin(), fields.size()});
}
inline void warn(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::warn, component, message, {fields.begin(), fields.size()});
}
inline void error(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::error, component, message, {fields.begin(), fields.size()});
}

}  // namespace docvault::log
