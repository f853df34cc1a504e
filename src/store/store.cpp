#include "store/store.h"

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace docvault::store {

std::unique_ptr<Store> open_store(const StoreOptions& options) {
  if (options.database_url.empty()) {
    return std::make_unique<SqliteStore>(options.sqlite_path, options.pool_size);
  }
  return std::make_unique<PostgresStore>(options.database_url, options.pool_size);
}

}  // namespace docvault::store
