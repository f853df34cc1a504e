#include "event_schemas.h"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

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
  static std::map<EventSchema, std::unique_ptr<valijson::Schema>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[which];
  if (!slot) {
    std::ifstream in(source_dir() / "docs" / "schemas" / file_of(which));
    if (!in) throw std::runtime_error(std::string("cannot read docs/schemas/") + file_of(which));
    const auto document = nlohmann::json::parse(in);
    slot = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(document);
    parser.populateSchema(adapter, *slot);
  }
  return *slot;
}

}  // namespace

std::string schema_violations(EventSchema schema, std::string_view json_text) {
  auto document = nlohmann::json::parse(json_text, nullptr, false);
  if (document.is_discarded()) return "not JSON";
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(document);
  if (validator.validate(schema_of(schema), adapter, &results)) return {};
  std::ostringstream out;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    for (const auto& part : error.context) out << part;
    out << ": " << error.description << "\n";
  }
  return out.str();
}

}  // namespace docvault::testing
