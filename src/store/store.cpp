#include "store/store.h"

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace docvault::store {

RecordOutcome existing_event_outcome(const std::optional<std::string>& stored,
                                     const std::optional<std::string>& incoming) {
  if (!stored || !incoming || *stored == *incoming) return RecordOutcome::duplicate;
  return RecordOutcome::event_id_reused;
}

std::string_view error_category(const std::exception& e) {
  if (dynamic_cast<const StoreUnavailable*>(&e) != nullptr) return "unreachable";
  if (dynamic_cast<const StoreError*>(&e) != nullptr) return "database_error";
  return "other";
}

std::unique_ptr<Store> open_store(const StoreOptions& options) {
  if (options.database_url.empty()) {
    return std::make_unique<SqliteStore>(options.sqlite_path, options.pool_size);
  }
  return std::make_unique<PostgresStore>(options.database_url, options.pool_size);
}

}  // namespace docvault::store
