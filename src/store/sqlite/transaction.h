// The SQLite store's Transaction: every role of store.h as statements on one
// connection (connection.h), inside a transaction the caller began.
//
// SQLite runs in-process, so set-based work (an entity's documents, a batch
// of processed events or outbox rows) goes row by row or entity by entity
// with cached prepared statements: that costs no round trips. Sets of seqs
// travel as a JSON array read with json_each. lock_entities does nothing:
// the single writer connection serialises every write transaction already.
//
// Internal to store/sqlite; used on the thread that holds the connection.
#pragma once

#include <functional>

#include "store/sqlite/connection.h"
#include "store/store.h"

namespace docvault::store::sqlite_detail {

// Runs `work` between `begin` (BEGIN DEFERRED for a read, BEGIN IMMEDIATE
// for a write) and COMMIT, rolling back if anything throws. Returns whether
// the committed work appended outbox rows.
bool run_transaction(Connection& c, const char* begin, const std::function<void(Transaction&)>& work);

}  // namespace docvault::store::sqlite_detail
