// The SQLite store's connection: a thin wrapper over the SQLite C API.
//
// A Connection owns one sqlite3 handle and caches each statement it prepares
// (by its SQL text) for as long as it lives; a Statement is that cached
// statement lent for one use, reset and unbound when it goes. Errors throw:
// SQLITE_BUSY, LOCKED, CANTOPEN, IOERR and FULL as StoreUnavailable (another
// writer holds the file, the disk is full or gone), anything else as
// StoreError, each with SQLite's message.
//
// Internal to store/sqlite. A Connection, and its Statements, belong to one
// thread at a time (opened with SQLITE_OPEN_NOMUTEX).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace docvault::store::sqlite_detail {

// Throws the StoreError or StoreUnavailable that SQLite's result `code` is.
[[noreturn]] void fail(sqlite3* db, int code, std::string_view what);

// One prepared statement, reset after each use so it can be cached.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text) {
    check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind_blob(int index, std::string_view bytes) {
    check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& bind(int index, const std::optional<std::string>& value) {
    if (!value) {
      check(sqlite3_bind_null(stmt_, index));
      return *this;
    }
    return bind(index, std::string_view(*value));
  }
  // True while a row is available.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, rc, "step");
  }
  // Steps to the end, leaving any rows unread (the rest of a RETURNING).
  void drain() {
    while (step()) {
    }
  }
  std::string text(int column) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }
  std::optional<std::string> optional_text(int column) const {
    if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
    return text(column);
  }
  std::string blob(int column) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating) the file in WAL mode, synchronous=FULL, foreign keys on,
  // with a busy timeout of 5 s; StoreUnavailable when it cannot.
  explicit Connection(const std::filesystem::path& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(const std::string& sql);

  int changes() const { return sqlite3_changes(db_); }

  // A cached prepared statement for `sql`.
  Statement prepare(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace docvault::store::sqlite_detail
