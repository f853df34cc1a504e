#include "event_schemas.h"

#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "json_schema.h"
#include "test_env.h"

namespace docvault::testing {
namespace {

const char* file_of(EventSchema schema) {
  switch (schema) {
    case EventSchema::entity_event: return "entity-event.json";
    case EventSchema::audit_event: return "audit-event.json";
    case EventSchema::document_event: return "document-event.json";
  }
  return "";
}

// Parsed once per schema; valijson's Schema is read-only once built.
const valijson::Schema& schema_of(EventSchema which) {
  static std::mutex mutex;
  static std::map<EventSchema, std::shared_ptr<const valijson::Schema>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[which];
  if (!slot) {
    std::ifstream in(source_dir() / "docs" / "schemas" / file_of(which));
    if (!in) throw std::runtime_error(std::string("cannot read docs/schemas/") + file_of(which));
    slot = compile_schema(nlohmann::json::parse(in));
  }
  return *slot;
}

}  // namespace

std::string schema_violations(EventSchema schema, std::string_view json_text) {
  auto document = nlohmann::json::parse(json_text, nullptr, false);
  if (document.is_discarded()) return "not JSON";
  return schema_errors(schema_of(schema), document);
}

}  // namespace docvault::testing
