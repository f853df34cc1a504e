// Values between the PostgreSQL store and libpqxx: result rows read into the
// store's types, and sets of values written as array parameters.
//
// Rows are read by column position, in the order the statements select them
// (statements.h: DOCVAULT_PG_DOCUMENT_COLUMNS, DOCVAULT_PG_PROCESSED_COLUMNS,
// the rejected_messages listings). Timestamps come as text in exactly the form
// format_timestamp writes; a value the application could not have written (a
// malformed timestamp, an unknown entity type, status or destination) throws
// StoreError.
//
// Internal to store/postgres. Pure functions and a value type: any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "domain/clock.h"
#include "domain/document.h"
#include "domain/events.h"
#include "store/store.h"

namespace docvault::store::postgres {

std::string text(const pqxx::field& field);
std::optional<std::string> optional_text(const pqxx::field& field);
Timestamp timestamp_field(const pqxx::field& field);
// The text a nullable timestamp parameter binds.
std::optional<std::string> optional_timestamp(const std::optional<Timestamp>& t);

Document document_from_row(const pqxx::row& row);
std::vector<Document> documents_from(const pqxx::result& result);
ProcessedEvent processed_event(const pqxx::row& row);
RejectedMessage rejected_message(const pqxx::row& row);
Destination parse_destination(std::string_view text);

// A PostgreSQL array literal of text elements, every element quoted so that
// empty strings, "NULL", braces, commas and surrounding blanks survive. It is
// bound as a parameter like any other value.
class TextArray {
 public:
  explicit TextArray(std::size_t reserve_bytes) { text_.reserve(reserve_bytes + 2); text_ += '{'; }
  void add(std::string_view element) {
    if (text_.size() > 1) text_ += ',';
    text_ += '"';
    // Runs without a quote or backslash go in at once (JSON payloads have
    // many quotes, but long runs between them).
    std::size_t i = 0;
    while (i < element.size()) {
      std::size_t run_end = i;
      while (run_end < element.size() && element[run_end] != '"' && element[run_end] != '\\') ++run_end;
      text_.append(element.data() + i, run_end - i);
      if (run_end == element.size()) break;
      text_ += '\\';
      text_ += element[run_end];
      i = run_end + 1;
    }
    text_ += '"';
  }
  void add_nullable(const std::optional<std::string>& element) {
    if (element) return add(std::string_view(*element));
    if (text_.size() > 1) text_ += ',';
    text_ += "NULL";
  }
  std::string finish() && {
    text_ += '}';
    return std::move(text_);
  }

 private:
  std::string text_;
};

}  // namespace docvault::store::postgres
