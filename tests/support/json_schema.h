// JSON Schema validation for the tests' contract checkers (event_schemas.h,
// openapi_contract.h): valijson over nlohmann-json, as draft 7. The
// repository's schemas keep to the keywords draft 7 and 2020-12 share, so
// valijson (which stops at draft 7) checks them as their 2020-12 readers do.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace valijson {
class Schema;
}

namespace docvault::testing {

// The schema `document` describes, ready to validate with (read-only, so
// shareable across threads). Local "$ref"s resolve within `document`.
std::shared_ptr<const valijson::Schema> compile_schema(const nlohmann::json& document);

// Empty when `value` satisfies `schema`; otherwise one line per error:
// `prefix`, where in the value, and why.
std::string schema_errors(const valijson::Schema& schema, const nlohmann::json& value,
                          const std::string& prefix = "");

}  // namespace docvault::testing
