// Trace context: the W3C traceparent and X-Ray's AWSTraceHeader parsed
// strictly (anything malformed is absent), a trace continued with a span of
// its own, and the trace carried on the outgoing events' attributes.
#include "domain/trace.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "domain/events.h"

namespace docvault {
namespace {

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kParent = "00f067aa0ba902b7";

TEST(Trace, ParsesAW3CTraceparentWithItsTracestate) {
  auto t = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, kTraceId);
  EXPECT_EQ(t->parent_id, kParent);
  EXPECT_TRUE(t->sampled);
  EXPECT_EQ(t->tracestate, "congo=t61rcWkgMzE");
  EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
  // A later version may add fields; its first four are read.
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
  // A tracestate over 512 characters is dropped, the trace kept.
  EXPECT_EQ(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", std::string(513, 'a'))
                ->tracestate,
            "");
}

TEST(Trace, RefusesMalformedTraceparents) {
  for (std::string_view bad : {"", "garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                               "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper case
                               "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent
                               "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 has four fields
                               "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",    // short id
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(Trace, ParsesAnAwsTraceHeaderInAnyFieldOrder) {
  auto t = parse_aws_trace_header("Sampled=1;Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->trace_id, kTraceId);
  EXPECT_EQ(t->parent_id, kParent);
  EXPECT_TRUE(t->sampled);
  auto root_only = parse_aws_trace_header("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(root_only);
  EXPECT_EQ(root_only->parent_id, "");
  EXPECT_FALSE(root_only->sampled);
  for (std::string_view bad : {"", "Parent=00f067aa0ba902b7", "Root=2-4bf92f35-77b34da6a3ce929d0e0e4736",
                               "Root=1-4bf92f35-77b34da6", "Root=1-00000000-000000000000000000000000"}) {
    EXPECT_FALSE(parse_aws_trace_header(bad)) << bad;
  }
}

TEST(Trace, ContinuingKeepsTheTraceWithASpanOfItsOwnAndStartsOneWithout) {
  auto incoming = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v");
  auto ours = continue_trace(incoming);
  EXPECT_EQ(ours.trace_id, kTraceId);
  EXPECT_NE(ours.span_id, kParent);
  EXPECT_EQ(ours.tracestate, "k=v");
  // Its headers parse back to it, with our span as the parent.
  auto header = parse_traceparent(ours.traceparent());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->trace_id, kTraceId);
  EXPECT_EQ(header->parent_id, ours.span_id);
  auto xray = parse_aws_trace_header(ours.aws_trace_header());
  ASSERT_TRUE(xray);
  EXPECT_EQ(xray->trace_id, kTraceId);
  EXPECT_EQ(xray->parent_id, ours.span_id);
  EXPECT_EQ(ours.aws_trace_header(), "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=" + ours.span_id + ";Sampled=1");

  auto fresh = continue_trace(std::nullopt);
  auto again = continue_trace(std::nullopt);
  EXPECT_TRUE(parse_traceparent(fresh.traceparent()));
  EXPECT_NE(fresh.trace_id, again.trace_id);
}

TEST(Trace, TheScopeIsTheThreadsCurrentTraceUntilItEnds) {
  EXPECT_EQ(current_trace(), nullptr);
  const auto outer = continue_trace(std::nullopt);
  {
    const TraceScope a(outer);
    EXPECT_EQ(current_trace(), &outer);
    const auto inner = continue_trace(std::nullopt);
    {
      const TraceScope b(inner);
      EXPECT_EQ(current_trace(), &inner);
    }
    EXPECT_EQ(current_trace(), &outer);
  }
  EXPECT_EQ(current_trace(), nullptr);
}

TEST(Trace, OutgoingEventsCarryTheTraceAsAttributes) {
  Document d;
  d.id = "0b7e3c1e-2b8f-4d4a-9a57-1c2d3e4f5a6b";
  d.entity = EntityRef{"issuer-1", EntityType::issuer};
  const auto trace = continue_trace(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v"));
  const Timestamp at{};
  for (const auto& m : document_change_events(
           d, DocumentChange{kActionDocumentArchived, kReasonEntityDeleted, Actor::system(), at, d.entity, "c", &trace})) {
    auto attributes = nlohmann::json::parse(m.attributes);
    EXPECT_EQ(attributes["traceparent"], trace.traceparent()) << m.attributes;
    EXPECT_EQ(attributes["tracestate"], "k=v");
  }
  for (const auto& m : document_change_events(
           d, DocumentChange{kActionDocumentArchived, kReasonEntityDeleted, Actor::system(), at, d.entity, "c"})) {
    EXPECT_FALSE(nlohmann::json::parse(m.attributes).contains("traceparent")) << m.attributes;
  }
}

}  // namespace
}  // namespace docvault
