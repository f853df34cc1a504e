// A database URL (libpq's connection string), parsed for its secrets, so that
// logs, errors and `config check` show everything but the password.
//
// Both forms libpq takes are read: a URI (postgresql://user:secret@host/db or
// postgres://…, with ?password=secret among its parameters) and keyword/value
// pairs (host=db password=secret; a value bare, or single-quoted with
// backslash escapes). Redaction replaces what the structure says is a
// password, never the secret wherever else it happens to occur: a password
// "accept" must not turn "accepting" into "***ing" and so reveal it.
//
// Pure functions of their arguments: any thread may call them.
#pragma once

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace docvault::store {

// Where a value stands in the text it was parsed from: [begin, end).
struct TextSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
  auto operator<=>(const TextSpan&) const = default;
};

// A connection string, parsed as far as redaction needs.
struct DatabaseUrl {
  enum class Form { uri, keyword_value };
  Form form = Form::keyword_value;
  // Each password value, in the order the text gives them (a URI's userinfo
  // first, then its password parameters).
  std::vector<TextSpan> passwords;
};

// A URI when `url` has "://", keyword/value pairs otherwise. Never fails:
// what it cannot read holds no password it knows of.
DatabaseUrl parse_database_url(std::string_view url);

// The URL with any password replaced by "***", for logs, errors and `config
// check`. Handles URIs (postgresql://user:secret@host/db, ?password=secret)
// and keyword/value strings (password=secret).
std::string redact_database_url(std::string_view url);
// A driver's error about `url`: its first line, with the password removed
// where the URL (parsed, not searched for the secret) puts it.
std::string redact_database_error(std::string_view message, std::string_view url);

}  // namespace docvault::store
