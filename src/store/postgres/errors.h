// How the PostgreSQL store turns libpqxx's exceptions into the store's.
//
// A lost connection (libpqxx's broken_connection, an in-doubt commit, SQLSTATE
// class 08 or 57P01..03, or a connection found closed after any failure) is
// StoreUnavailable and marks the lease broken, so the pool drops that
// connection. Any other database error is StoreError naming the operation and
// the SQLSTATE, never a bound value: the server's DETAIL (which quotes them)
// is dropped, and its primary message is kept only for classes whose text
// names schema objects rather than data (23, 42). Exceptions that are not
// libpqxx's (the caller's own, StoreError from row parsing) pass unchanged.
//
// Internal to store/postgres. Called on the thread that holds the lease.
#pragma once

#include <string>
#include <string_view>

#include "store/postgres/connection_pool.h"

namespace docvault::store::postgres {

// Rethrows the libpqxx exception being handled as StoreError/StoreUnavailable.
[[noreturn]] void rethrow_as_store_error(std::string_view operation, ConnectionPool::Lease& lease);

// Rethrows the libpqxx exception being handled while opening a connection to
// `url` as StoreUnavailable, naming the server by `redacted_url` and quoting
// the driver's reason without the password.
[[noreturn]] void rethrow_as_connect_error(const std::string& url, const std::string& redacted_url);

// Runs f() on the lease's connection, its libpqxx errors translated.
template <class F>
auto guarded(ConnectionPool::Lease& lease, std::string_view operation, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    rethrow_as_store_error(operation, lease);
  }
}

}  // namespace docvault::store::postgres
