#include "domain/trace.h"

#include <algorithm>
#include <vector>

#include "domain/uuid.h"

namespace docvault {
namespace {

thread_local const Trace* t_current = nullptr;

bool is_lower_hex(std::string_view text, std::size_t size) {
  return text.size() == size &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view text) { return std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; }); }

std::string random_hex(std::size_t size) {
  std::string hex;
  while (hex.size() < size) {
    for (char c : uuid_v4()) {
      if (c != '-' && hex.size() < size) hex.push_back(c);
    }
  }
  return hex;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

constexpr std::size_t kMaxTracestate = 512;

}  // namespace

std::string Trace::traceparent() const {
  return "00-" + trace_id + "-" + span_id + (sampled ? "-01" : "-00");
}

std::string Trace::aws_trace_header() const {
  return "Root=1-" + trace_id.substr(0, 8) + "-" + trace_id.substr(8) + ";Parent=" + span_id +
         ";Sampled=" + (sampled ? "1" : "0");
}

std::optional<IncomingTrace> parse_traceparent(std::string_view traceparent, std::string_view tracestate) {
  auto fields = split(traceparent, '-');
  if (fields.size() < 4 || !is_lower_hex(fields[0], 2) || fields[0] == "ff") return std::nullopt;
  // Version 00 has exactly four fields; a later version may add more.
  if (fields[0] == "00" && fields.size() != 4) return std::nullopt;
  if (!is_lower_hex(fields[1], 32) || all_zero(fields[1])) return std::nullopt;
  if (!is_lower_hex(fields[2], 16) || all_zero(fields[2])) return std::nullopt;
  if (!is_lower_hex(fields[3], 2)) return std::nullopt;
  // The sampled flag is the lowest bit: that of the last hex digit.
  const char last = fields[3][1];
  const int low = last <= '9' ? last - '0' : last - 'a' + 10;
  IncomingTrace out{std::string(fields[1]), std::string(fields[2]), (low & 1) != 0, ""};
  if (tracestate.size() <= kMaxTracestate) out.tracestate = std::string(tracestate);
  return out;
}

std::optional<IncomingTrace> parse_aws_trace_header(std::string_view header) {
  std::optional<IncomingTrace> out;
  std::string parent;
  bool sampled = false;
  for (auto field : split(header, ';')) {
    auto eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = field.substr(0, eq);
    auto value = field.substr(eq + 1);
    if (key == "Root") {
      auto parts = split(value, '-');
      if (parts.size() != 3 || parts[0] != "1" || !is_lower_hex(parts[1], 8) || !is_lower_hex(parts[2], 24)) {
        return std::nullopt;
      }
      std::string id = std::string(parts[1]) + std::string(parts[2]);
      if (all_zero(id)) return std::nullopt;
      out = IncomingTrace{std::move(id), "", false, ""};
    } else if (key == "Parent" && is_lower_hex(value, 16) && !all_zero(value)) {
      parent = std::string(value);
    } else if (key == "Sampled") {
      sampled = value == "1";
    }
  }
  if (out) {
    out->parent_id = std::move(parent);
    out->sampled = sampled;
  }
  return out;
}

Trace continue_trace(const std::optional<IncomingTrace>& incoming) {
  if (incoming) return Trace{incoming->trace_id, random_hex(16), incoming->sampled, incoming->tracestate};
  return Trace{random_hex(32), random_hex(16), true, ""};
}

const Trace* current_trace() { return t_current; }

TraceScope::TraceScope(const Trace& trace) : previous_(t_current) { t_current = &trace; }

TraceScope::~TraceScope() { t_current = previous_; }

}  // namespace docvault
