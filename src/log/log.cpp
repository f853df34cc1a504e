#include "log/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

#include "domain/clock.h"
#include "domain/trace.h"

namespace docvault::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::json};

std::shared_ptr<spdlog::logger>& logger() {
  // stderr, unbuffered through spdlog's mutex-guarded sink: lines from many
  // threads never interleave.
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("docvault", sink);
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return instance;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

std::string now_iso() { return format_timestamp(SystemClock().now()); }

// Invalid UTF-8 from hostile input must not stop a log line from being written.
std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void init(Level level, Format format) {
  g_level = level;
  g_format = format;
  logger();
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view component, std::string_view message, std::span<const Field> fields) {
  if (!enabled(level)) return;
  std::string line;
  if (g_format.load(std::memory_order_relaxed) == Format::json) {
    nlohmann::ordered_json j;
    j["ts"] = now_iso();
    j["level"] = level_name(level);
    j["component"] = component;
    j["message"] = message;
    for (const auto& field : fields) j[std::string(field.key)] = field.value;
    if (const Trace* trace = current_trace(); trace && !j.contains("trace_id")) j["trace_id"] = trace->trace_id;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = now_iso();
    line.append(" ").append(level_name(level)).append(" component=").append(component);
    line.append(" ").append(message);
    for (const auto& field : fields) {
      line.append(" ").append(field.key).append("=");
      line.append(field.value.is_string() ? field.value.get<std::string>() : dump(field.value));
    }
    if (const Trace* trace = current_trace()) line.append(" trace_id=").append(trace->trace_id);
  }
  logger()->log(spdlog::level::info, line);
}

}  // namespace docvault::log
