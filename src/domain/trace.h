// Trace context: which distributed trace a piece of docvault's work belongs
// to, so an operator can follow a request or an entity event across services.
//
// The W3C Trace Context headers (`traceparent`, `tracestate`) and X-Ray's
// `AWSTraceHeader` (what SQS carries as a system attribute) are parsed here,
// strictly: anything malformed counts as absent, and the work starts a new
// trace. A `Trace` is the context of one unit of docvault's work: the trace
// it continues (or a new one), a span id of its own, the sampled flag and the
// caller's `tracestate`, passed on as it came. What docvault emits carries it
// on: every outgoing event's `traceparent`/`tracestate` message attributes
// (domain/events.h), `AWSTraceHeader` where SQS reads it, and `trace_id` on
// every log line written while a `TraceScope` is active on the thread.
//
// No spans are exported: propagation and logs only.
//
// Thread-safety: values; current_trace() is per thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace docvault {

struct Trace {
  std::string trace_id;    // 32 lowercase hex digits, not all zero
  std::string span_id;     // 16 lowercase hex digits: this work's own span
  bool sampled = false;
  std::string tracestate;  // the caller's, at most 512 characters; may be empty

  // The W3C header naming this work as the parent: "00-<trace>-<span>-<flags>".
  std::string traceparent() const;
  // X-Ray's form: "Root=1-<8 hex>-<24 hex>;Parent=<span>;Sampled=<0|1>".
  std::string aws_trace_header() const;
  bool operator==(const Trace&) const = default;
};

// What a caller sent: the trace it belongs to and the span that caused us.
struct IncomingTrace {
  std::string trace_id;
  std::string parent_id;
  bool sampled = false;
  std::string tracestate;
};

// A `traceparent` header (version 00, or a later version's first four fields)
// with its `tracestate` (dropped when longer than 512 characters); nothing
// when malformed.
std::optional<IncomingTrace> parse_traceparent(std::string_view traceparent, std::string_view tracestate = {});
// An `AWSTraceHeader` ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
// fields in any order); nothing when it has no valid Root. Without a Parent
// the work still joins the trace.
std::optional<IncomingTrace> parse_aws_trace_header(std::string_view header);

// This work's trace: the incoming one continued with a new span id, or a new
// trace (sampled) when there is none.
Trace continue_trace(const std::optional<IncomingTrace>& incoming);

// The trace of the work this thread is doing, if any (log lines carry its id).
const Trace* current_trace();

// Makes `trace` the thread's current trace until destroyed (the previous one
// comes back then).
class TraceScope {
 public:
  explicit TraceScope(const Trace& trace);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  const Trace* previous_;
};

}  // namespace docvault
