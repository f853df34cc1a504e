// The event contracts in docs/schemas/ as validators: every event a suite
// emits or consumes is checked against its schema (JSON Schema, validated by
// valijson; the schemas use only keywords draft 7 and 2020-12 share).
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace docvault::testing {

enum class EventSchema { entity_event, audit_event, document_event };

// Empty when `json_text` is JSON that satisfies the schema; otherwise what is
// wrong, one line per error (where, and why).
std::string schema_violations(EventSchema schema, std::string_view json_text);

}  // namespace docvault::testing

#define EXPECT_MATCHES_SCHEMA(schema, text) \
  EXPECT_EQ(::docvault::testing::schema_violations(schema, text), "") << (text)
