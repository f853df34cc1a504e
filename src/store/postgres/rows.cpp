#include "store/postgres/rows.h"

#include <cstdint>

namespace docvault::store::postgres {

Timestamp timestamp_field(const pqxx::field& field) {
  auto parsed = parse_timestamp(field.c_str());
  if (!parsed) throw StoreError(std::string("malformed timestamp in column ") + field.name());
  return *parsed;
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return std::string(field.c_str(), field.size());
}

std::string text(const pqxx::field& field) { return std::string(field.c_str(), field.size()); }

Document document_from_row(const pqxx::row& row) {
  Document d;
  d.id = text(row[0]);
  d.entity.id = text(row[1]);
  const auto type = parse_entity_type(row[2].c_str());
  if (!type) throw StoreError("documents row has an unknown entity_type");
  d.entity.type = *type;
  d.document_type = text(row[3]);
  d.filename = text(row[4]);
  d.content_type = text(row[5]);
  d.size_bytes = static_cast<std::uint64_t>(row[6].as<std::int64_t>());
  d.sha256 = text(row[7]);
  const auto status = parse_document_status(row[8].c_str());
  if (!status) throw StoreError("documents row has an unknown status");
  d.status = *status;
  if (!row[9].is_null()) d.archived_at = timestamp_field(row[9]);
  d.archive_reason = optional_text(row[10]);
  d.created_at = timestamp_field(row[11]);
  d.updated_at = timestamp_field(row[12]);
  if (!row[13].is_null()) d.suspended_at = timestamp_field(row[13]);
  return d;
}

std::vector<Document> documents_from(const pqxx::result& result) {
  std::vector<Document> out;
  out.reserve(result.size());
  for (const auto& row : result) out.push_back(document_from_row(row));
  return out;
}

std::optional<std::string> optional_timestamp(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return format_timestamp(*t);
}

ProcessedEvent processed_event(const pqxx::row& row) {
  return ProcessedEvent{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                        optional_text(row[3]),      optional_text(row[4]),      timestamp_field(row[5]),
                        optional_text(row[6])};
}

RejectedMessage rejected_message(const pqxx::row& row) {
  pqxx::binarystring body(row[1]);
  return RejectedMessage{row[0].as<std::string>(), body.str(), row[2].as<std::string>(),
                         row[3].as<std::string>(), row[4].as<int>(), timestamp_field(row[5])};
}

Destination parse_destination(std::string_view text) {
  if (text == "sns") return Destination::sns;
  if (text == "sqs") return Destination::sqs;
  throw StoreError("outbox_events row has an unknown destination");
}

}  // namespace docvault::store::postgres
