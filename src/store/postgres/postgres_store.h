// The PostgreSQL store: production backend of the Store contract (store.h).
//
// Each read or write is one transaction on one pooled connection (a READ ONLY
// transaction for reads). Every statement binds its values as parameters, and
// the hot ones are prepared once per connection. Timestamps travel as text
// (ISO 8601 with milliseconds and a Z, cast with ::timestamptz on the way in
// and formatted with to_char in UTC on the way out), so what a row holds is
// exactly what the application stamped, to the millisecond.
//
// Set-based work: archiving an entity is one UPDATE ... RETURNING; an outbox
// append is one INSERT over unnest() of array parameters per chunk of
// kOutboxChunkRows messages (one statement for a typical cascade).
//
// Errors: a lost connection, an unreachable server or an exhausted pool throws
// StoreUnavailable; any other database error throws StoreError whose message
// names the operation and the SQLSTATE but never a bound value. Exceptions
// from the caller's callback roll the transaction back and propagate
// unchanged. The database URL is never logged or put in an error with its
// password.
//
// migrate() is serialised across processes by a session-level advisory lock,
// so N replicas may start at once.
//
// The pieces, in store/postgres/ (internal): statements.h (the SQL, prepared
// per connection), transaction.h (the Transaction), rows.h (rows to values
// and back), errors.h (libpqxx errors to StoreError/StoreUnavailable),
// outbox_listener.h (LISTEN for other instances' outbox rows),
// connection_pool.h; the URL's redaction is store/database_url.h.
//
// Thread-safety: as Store: any number of threads may call any member at once;
// concurrency is bounded by the pool (pool_size connections), and callers
// beyond it wait up to acquire_timeout, then get StoreUnavailable.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/migrations.h"
#include "store/outbox_signal.h"
#include "store/postgres/outbox_listener.h"
#include "store/store.h"

namespace docvault::store {

namespace postgres {
class ConnectionPool;
}

class PostgresStore final : public Store {
 public:
  static constexpr std::chrono::milliseconds kDefaultAcquireTimeout{5000};
  // Messages per INSERT of append_outbox. Measured with 200,000 messages of
  // ~500 bytes: 10,000-row statements took ~2.0 s in all, one 200,000-row
  // statement ~4-5 s (its ORDER BY ordinality sort spills past work_mem), so
  // a large span goes in as a few statements of this size.
  static constexpr std::size_t kOutboxChunkRows = 10'000;

  // Connects lazily: constructing never touches the network. Throws
  // std::invalid_argument when pool_size is 0.
  PostgresStore(std::string database_url, std::size_t pool_size,
                std::chrono::milliseconds acquire_timeout = kDefaultAcquireTimeout);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  std::string_view backend() const override { return "postgresql"; }

  void migrate() override;
  std::vector<int> applied_migrations() override;
  std::vector<int> known_migrations() const override;

  void ping() override;
  void compact_outbox_queue() override;
  PoolStats pool_stats() const override;

  void read(const std::function<void(Transaction&)>& work) override;
  void write(const std::function<void(Transaction&)>& work) override;

  // Listens (LISTEN docvault_outbox, on a connection of its own, started on
  // the first call) so that other instances' commits wake this one too.
  std::uint64_t wait_for_outbox(std::uint64_t seen, std::chrono::milliseconds timeout,
                                std::stop_token stop) override;

 private:
  template <class PqxxTransaction>
  void run(const std::function<void(Transaction&)>& work, std::string_view kind);

  std::string database_url_;  // holds the password: never log it, use redacted_url_
  std::string redacted_url_;
  std::vector<Migration> migrations_;
  std::unique_ptr<postgres::ConnectionPool> pool_;

  OutboxSignal outbox_signal_;
  postgres::OutboxListener listener_{database_url_, outbox_signal_};  // last: stopped first
};

}  // namespace docvault::store
