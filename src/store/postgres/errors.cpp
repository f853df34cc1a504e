#include "store/postgres/errors.h"

#include <pqxx/pqxx>

#include "store/database_url.h"
#include "store/store.h"

namespace docvault::store::postgres {
namespace {

bool connection_lost_state(const std::string& sqlstate) {
  // Class 08: connection exception; 57P01..03: the server is shutting down or
  // an administrator terminated this backend.
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

bool connection_alive(ConnectionPool::Lease& lease) {
  try {
    return lease.connection().is_open();
  } catch (...) {
    return false;
  }
}

}  // namespace

[[noreturn]] void rethrow_as_store_error(std::string_view operation, ConnectionPool::Lease& lease) {
  const std::string op(operation);
  try {
    throw;
  } catch (const pqxx::broken_connection&) {
    lease.mark_broken();
    throw StoreUnavailable(op + ": connection to PostgreSQL lost");
  } catch (const pqxx::in_doubt_error&) {
    lease.mark_broken();
    throw StoreUnavailable(op + ": connection to PostgreSQL lost while committing; outcome unknown");
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    if (connection_lost_state(state) || !connection_alive(lease)) {
      lease.mark_broken();
      throw StoreUnavailable(op + ": connection to PostgreSQL lost (SQLSTATE " + state + ")");
    }
    std::string message = op + " failed (SQLSTATE " + (state.empty() ? "unknown" : state) + ")";
    if (state.starts_with("23") || state.starts_with("42")) {
      std::string_view what = e.what();
      what = what.substr(0, what.find('\n'));
      if (what.starts_with("ERROR:")) what.remove_prefix(6);
      while (what.starts_with(' ')) what.remove_prefix(1);
      message.append(": ").append(what);
    }
    throw StoreError(message);
  } catch (const pqxx::failure& e) {
    if (!connection_alive(lease)) {
      lease.mark_broken();
      throw StoreUnavailable(op + ": connection to PostgreSQL lost");
    }
    // Deadlocks and serialisation failures land here in libpqxx 6; their
    // DETAIL lines may quote rows, so only the first line is kept.
    const std::string_view what = e.what();
    throw StoreError(op + " failed: " + std::string(what.substr(0, what.find('\n'))));
  } catch (const pqxx::pqxx_exception&) {
    // Conversion and range errors, whose text may quote the value.
    throw StoreError(op + " failed: unexpected result from PostgreSQL");
  }
}

[[noreturn]] void rethrow_as_connect_error(const std::string& url, const std::string& redacted_url) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw StoreUnavailable("cannot connect to PostgreSQL at " + redacted_url + ": " +
                           redact_database_error(e.what(), url));
  } catch (const pqxx::sql_error& e) {
    throw StoreUnavailable("cannot set up a PostgreSQL connection at " + redacted_url +
                           " (SQLSTATE " + e.sqlstate() + ")");
  } catch (const pqxx::failure& e) {
    throw StoreUnavailable("cannot connect to PostgreSQL at " + redacted_url + ": " +
                           redact_database_error(e.what(), url));
  }
}

}  // namespace docvault::store::postgres
