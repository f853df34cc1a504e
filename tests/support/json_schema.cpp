#include "json_schema.h"

#include <sstream>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

namespace docvault::testing {

std::shared_ptr<const valijson::Schema> compile_schema(const nlohmann::json& document) {
  auto schema = std::make_shared<valijson::Schema>();
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter adapter(document);
  parser.populateSchema(adapter, *schema);
  return schema;
}

std::string schema_errors(const valijson::Schema& schema, const nlohmann::json& value,
                          const std::string& prefix) {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(value);
  if (validator.validate(schema, adapter, &results)) return {};
  std::ostringstream out;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    out << prefix;
    for (const auto& part : error.context) out << part;
    out << ": " << error.description << "\n";
  }
  return out.str();
}

}  // namespace docvault::testing
