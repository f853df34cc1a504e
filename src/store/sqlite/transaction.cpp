#include "store/sqlite/transaction.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "domain/uuid.h"

namespace docvault::store::sqlite_detail {
namespace {

constexpr const char* kDocumentColumns =
    "id, entity_id, entity_type, document_type, filename, content_type, size_bytes, sha256, "
    "status, archived_at, archive_reason, created_at, updated_at, suspended_at";

Timestamp timestamp(const std::string& text) {
  auto parsed = parse_timestamp(text);
  if (!parsed) throw StoreError("sqlite: malformed timestamp in the database");
  return *parsed;
}

Document read_document(const Statement& row) {
  Document d;
  d.id = row.text(0);
  d.entity.id = row.text(1);
  auto type = parse_entity_type(row.text(2));
  auto status = parse_document_status(row.text(8));
  if (!type || !status) throw StoreError("sqlite: unexpected entity_type or status in the database");
  d.entity.type = *type;
  d.document_type = row.text(3);
  d.filename = row.text(4);
  d.content_type = row.text(5);
  d.size_bytes = static_cast<std::uint64_t>(row.integer(6));
  d.sha256 = row.text(7);
  d.status = *status;
  if (auto at = row.optional_text(9)) d.archived_at = timestamp(*at);
  d.archive_reason = row.optional_text(10);
  d.created_at = timestamp(row.text(11));
  d.updated_at = timestamp(row.text(12));
  if (auto at = row.optional_text(13)) d.suspended_at = timestamp(*at);
  return d;
}

ProcessedEvent read_processed_event(const Statement& row) {
  return ProcessedEvent{row.text(0), row.text(1), row.text(2), row.optional_text(3), row.optional_text(4),
                        timestamp(row.text(5)), row.optional_text(6)};
}

std::vector<Document> read_documents(Statement& stmt) {
  std::vector<Document> out;
  while (stmt.step()) out.push_back(read_document(stmt));
  return out;
}

// Outbox seqs as a JSON array, for "seq IN (SELECT value FROM json_each(?))".
std::string seq_list(std::span<const std::int64_t> seqs) {
  std::string out = "[";
  for (auto seq : seqs) {
    if (out.size() > 1) out += ',';
    out += std::to_string(seq);
  }
  return out += ']';
}

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(Connection& connection) : c_(connection) {}

  void insert_document(const Document& d) override {
    auto stmt = c_.prepare(std::string("INSERT INTO documents (") + kDocumentColumns +
                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    stmt.bind(1, d.id).bind(2, d.entity.id).bind(3, to_string(d.entity.type)).bind(4, d.document_type);
    stmt.bind(5, d.filename).bind(6, d.content_type).bind(7, static_cast<std::int64_t>(d.size_bytes));
    stmt.bind(8, d.sha256).bind(9, to_string(d.status));
    stmt.bind(10, d.archived_at ? std::optional<std::string>(format_timestamp(*d.archived_at)) : std::nullopt);
    stmt.bind(11, d.archive_reason).bind(12, format_timestamp(d.created_at));
    stmt.bind(13, format_timestamp(d.updated_at));
    stmt.bind(14, d.suspended_at ? std::optional<std::string>(format_timestamp(*d.suspended_at)) : std::nullopt);
    stmt.step();
  }

  std::optional<Document> find_document(const DocumentId& id) override {
    auto stmt = c_.prepare(std::string("SELECT ") + kDocumentColumns + " FROM documents WHERE id = ?1");
    stmt.bind(1, id.str());
    if (!stmt.step()) return std::nullopt;
    return read_document(stmt);
  }

  std::vector<Document> list_documents(const DocumentFilter& f) override {
    // One statement for every filter combination: unused filters bind NULL.
    auto stmt = c_.prepare(std::string("SELECT ") + kDocumentColumns +
                           " FROM documents WHERE entity_id = ?1 AND entity_type = ?2 AND suspended_at IS NULL"
                           " AND (?3 IS NULL OR status = ?3)"
                           " AND (?4 IS NULL OR (created_at, id) > (?4, ?5))"
                           " ORDER BY created_at, id LIMIT ?6");
    stmt.bind(1, f.entity.id).bind(2, to_string(f.entity.type));
    stmt.bind(3, f.status ? std::optional<std::string>(std::string(to_string(*f.status))) : std::nullopt);
    stmt.bind(4, f.after ? std::optional<std::string>(format_timestamp(f.after->created_at)) : std::nullopt);
    stmt.bind(5, f.after ? std::optional<std::string>(f.after->id) : std::nullopt);
    stmt.bind(6, static_cast<std::int64_t>(f.limit));
    return read_documents(stmt);
  }

  std::optional<Document> archive_document(const DocumentId& id, std::string_view reason,
                                           Timestamp at) override {
    auto stmt = c_.prepare(std::string("UPDATE documents SET status = 'archived', archived_at = ?2,"
                                       " archive_reason = ?3, updated_at = ?2"
                                       " WHERE id = ?1 AND status = 'active' RETURNING ") +
                           kDocumentColumns);
    stmt.bind(1, id.str()).bind(2, format_timestamp(at)).bind(3, reason);
    auto rows = read_documents(stmt);
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
  }

  std::vector<Document> archive_entity_documents(std::span<const EntityRef> entities, std::string_view reason,
                                                 Timestamp at, std::size_t limit) override {
    return update_entities(entities, "status = 'archived', archived_at = ?3, archive_reason = ?4, updated_at = ?3",
                           "status = 'active'", limit, at, reason);
  }

  std::vector<Document> suspend_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                 std::size_t limit) override {
    return update_entities(entities, "suspended_at = ?3, updated_at = ?3", "suspended_at IS NULL", limit, at,
                           std::nullopt);
  }

  std::vector<Document> reinstate_entity_documents(std::span<const EntityRef> entities, Timestamp at,
                                                   std::size_t limit) override {
    return update_entities(entities, "suspended_at = NULL, updated_at = ?3", "suspended_at IS NOT NULL", limit, at,
                           std::nullopt);
  }

  void append_outbox(std::span<const OutboxMessage> messages) override {
    if (messages.empty()) return;
    appended_outbox_ = true;
    // One prepared INSERT per row: SQLite runs in-process, so rows cost no
    // round trips, and nothing is built or parsed in between.
    const std::string sql =
        "INSERT INTO outbox_events (event_id, destination, target, ordering_key, payload,"
        " message_attributes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (event_id) DO NOTHING";
    for (const auto& m : messages) {
      auto stmt = c_.prepare(sql);
      stmt.bind(1, m.event_id).bind(2, to_string(m.destination)).bind(3, m.target).bind(4, m.ordering_key);
      stmt.bind(5, m.payload).bind(6, m.attributes).bind(7, format_timestamp(m.created_at));
      stmt.step();
    }
  }

  std::vector<OutboxMessage> outbox_messages(std::string_view ordering_key) override {
    auto stmt = c_.prepare(
        "SELECT event_id, destination, target, ordering_key, payload, message_attributes, created_at"
        " FROM outbox_events WHERE ordering_key = ?1 ORDER BY seq");
    stmt.bind(1, ordering_key);
    std::vector<OutboxMessage> out;
    while (stmt.step()) {
      out.push_back(OutboxMessage{stmt.text(0),
                                  stmt.text(1) == "sns" ? Destination::sns : Destination::sqs,
                                  stmt.text(2), stmt.text(3), stmt.text(4), stmt.text(5),
                                  timestamp(stmt.text(6))});
    }
    return out;
  }

  std::vector<OutboxRecord> claim_outbox(std::size_t limit, Timestamp now, Timestamp lease_until) override {
    // SQLite runs one write transaction at a time, so claims never overlap.
    // The state is in outbox_pending; the messages are read after the lease.
    auto lease = c_.prepare(
        "WITH blocked AS ("
        " SELECT ordering_key, min(seq) AS first_seq FROM outbox_pending"
        " WHERE next_attempt_at > ?1 GROUP BY ordering_key) "
        "UPDATE outbox_pending SET next_attempt_at = ?3 WHERE seq IN ("
        " SELECT p.seq FROM outbox_pending p"
        " WHERE (p.next_attempt_at IS NULL OR p.next_attempt_at <= ?1)"
        " AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.ordering_key = p.ordering_key AND b.first_seq < p.seq)"
        " ORDER BY p.seq LIMIT ?2)"
        " RETURNING seq, attempts");
    lease.bind(1, format_timestamp(now)).bind(2, static_cast<std::int64_t>(limit)).bind(3, format_timestamp(lease_until));
    std::map<std::int64_t, int> attempts;
    while (lease.step()) attempts.emplace(lease.integer(0), static_cast<int>(lease.integer(1)));
    if (attempts.empty()) return {};
    auto rows = c_.prepare(
        "SELECT seq, event_id, destination, target, ordering_key, payload, message_attributes, created_at"
        " FROM outbox_events WHERE seq IN (SELECT value FROM json_each(?1)) ORDER BY seq");
    std::vector<std::int64_t> seqs;
    seqs.reserve(attempts.size());
    for (const auto& [seq, n] : attempts) seqs.push_back(seq);
    rows.bind(1, seq_list(seqs));
    std::vector<OutboxRecord> out;
    out.reserve(attempts.size());
    while (rows.step()) {
      out.push_back(OutboxRecord{rows.integer(0),
                                 OutboxMessage{rows.text(1), rows.text(2) == "sns" ? Destination::sns : Destination::sqs,
                                               rows.text(3), rows.text(4), rows.text(5), rows.text(6),
                                               timestamp(rows.text(7))},
                                 attempts.at(rows.integer(0))});
    }
    return out;
  }

  void mark_published(std::span<const std::int64_t> seqs, Timestamp at) override {
    if (seqs.empty()) return;
    // Only rows still pending: one marked already (by a relay whose lease had
    // run out) is left alone.
    auto done = c_.prepare("DELETE FROM outbox_pending WHERE seq IN (SELECT value FROM json_each(?1)) RETURNING seq");
    done.bind(1, seq_list(seqs));
    std::vector<std::int64_t> marked;
    while (done.step()) marked.push_back(done.integer(0));
    if (marked.empty()) return;
    auto stmt = c_.prepare(
        "INSERT INTO outbox_published (seq, published_at) SELECT value, ?2 FROM json_each(?1) WHERE true"
        " ON CONFLICT (seq) DO UPDATE SET published_at = excluded.published_at");
    stmt.bind(1, seq_list(marked)).bind(2, format_timestamp(at));
    stmt.step();
  }

  void mark_failed(std::span<const PublishFailure> failures) override {
    if (failures.empty()) return;
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& f : failures) {
      rows.push_back({f.seq, f.error, format_timestamp(f.next_attempt_at), f.attempted ? 1 : 0});
    }
    auto stmt = c_.prepare(
        "UPDATE outbox_pending SET last_error = f.value ->> 1, next_attempt_at = f.value ->> 2,"
        " attempts = attempts + (f.value ->> 3)"
        " FROM json_each(?1) AS f WHERE outbox_pending.seq = f.value ->> 0");
    stmt.bind(1, rows.dump());
    stmt.step();
  }

  void release_outbox(std::span<const std::int64_t> seqs, Timestamp lease_until) override {
    if (seqs.empty()) return;
    auto stmt = c_.prepare(
        "UPDATE outbox_pending SET next_attempt_at = NULL"
        " WHERE seq IN (SELECT value FROM json_each(?1)) AND next_attempt_at = ?2");
    stmt.bind(1, seq_list(seqs)).bind(2, format_timestamp(lease_until));
    stmt.step();
  }

  std::size_t purge_published(Timestamp before, std::size_t limit) override {
    // A requeued row (pending again) stays, whenever it was last published.
    auto doomed = c_.prepare(
        "DELETE FROM outbox_published WHERE seq IN (SELECT d.seq FROM outbox_published d"
        " WHERE d.published_at < ?1 AND d.seq NOT IN (SELECT seq FROM outbox_pending)"
        " ORDER BY d.published_at LIMIT ?2) RETURNING seq");
    doomed.bind(1, format_timestamp(before)).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::int64_t> seqs;
    while (doomed.step()) seqs.push_back(doomed.integer(0));
    if (seqs.empty()) return 0;
    auto stmt = c_.prepare("DELETE FROM outbox_events WHERE seq IN (SELECT value FROM json_each(?1))");
    stmt.bind(1, seq_list(seqs));
    stmt.step();
    return static_cast<std::size_t>(c_.changes());
  }

  OutboxBacklog outbox_backlog() override {
    auto stmt = c_.prepare("SELECT count(*), min(created_at) FROM outbox_pending");
    stmt.step();
    OutboxBacklog backlog{static_cast<std::size_t>(stmt.integer(0)), std::nullopt};
    if (auto oldest = stmt.optional_text(1)) backlog.oldest_pending_created_at = timestamp(*oldest);
    return backlog;
  }

  std::vector<RecordOutcome> record_processed_events(std::span<const ProcessedEvent> events) override {
    std::vector<RecordOutcome> outcomes;
    outcomes.reserve(events.size());
    for (const auto& e : events) outcomes.push_back(record_one(e));
    return outcomes;
  }

  // One writer at a time already serialises every write transaction.
  void lock_entities(std::span<const EntityRef>) override {}

  std::vector<EntityState> entity_states(std::span<const EntityRef> entities) override {
    std::vector<EntityState> out;
    out.reserve(entities.size());
    for (const auto& e : entities) {
      auto stmt = c_.prepare(
          "SELECT CASE WHEN EXISTS (SELECT 1 FROM entity_tombstones WHERE entity_type = ?1 AND entity_id = ?2)"
          " THEN 'deleted' WHEN EXISTS (SELECT 1 FROM entity_suspensions WHERE entity_type = ?1 AND entity_id = ?2)"
          " THEN 'suspended' ELSE 'active' END");
      stmt.bind(1, to_string(e.type)).bind(2, e.id);
      stmt.step();
      const std::string state = stmt.text(0);
      out.push_back(state == "deleted"     ? EntityState::deleted
                    : state == "suspended" ? EntityState::suspended
                                           : EntityState::active);
    }
    return out;
  }

  void record_entity_transitions(std::span<const EntityTransition> transitions) override {
    for (const auto& t : transitions) {
      const std::string type(to_string(t.entity.type));
      if (t.state != EntityState::suspended) {
        auto lift = c_.prepare("DELETE FROM entity_suspensions WHERE entity_type = ?1 AND entity_id = ?2");
        lift.bind(1, type).bind(2, t.entity.id);
        lift.drain();
      }
      if (t.state == EntityState::active) continue;
      auto record = c_.prepare(t.state == EntityState::deleted
                                   ? "INSERT INTO entity_tombstones (entity_type, entity_id, event_id, deleted_at)"
                                     " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"
                                   : "INSERT INTO entity_suspensions (entity_type, entity_id, event_id, suspended_at)"
                                     " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
      record.bind(1, type).bind(2, t.entity.id).bind(3, t.event_id).bind(4, format_timestamp(t.at));
      record.drain();
    }
  }

  bool record_rejected_message(const RejectedMessage& m) override {
    auto stmt = c_.prepare(
        "INSERT INTO rejected_messages (id, message_id, body, reason, detail, receive_count, rejected_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (message_id) DO NOTHING RETURNING id");
    stmt.bind(1, uuid_v4()).bind(2, m.message_id).bind_blob(3, m.body).bind(4, m.reason).bind(5, m.detail);
    stmt.bind(6, static_cast<std::int64_t>(m.receive_count)).bind(7, format_timestamp(m.rejected_at));
    bool inserted = stmt.step();
    stmt.drain();
    return inserted;
  }

  std::vector<ProcessedEvent> list_processed_events(const ProcessedEventFilter& f) override {
    auto stmt = c_.prepare(
        "SELECT event_id, source, action, entity_id, entity_type, created_at, payload_sha256 FROM processed_events"
        " WHERE (?1 IS NULL OR entity_id = ?1) AND (?2 IS NULL OR entity_type = ?2)"
        " AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4)"
        " ORDER BY created_at DESC, event_id LIMIT ?5");
    auto ts = [](const std::optional<Timestamp>& t) {
      return t ? std::optional<std::string>(format_timestamp(*t)) : std::nullopt;
    };
    stmt.bind(1, f.entity_id).bind(2, f.entity_type).bind(3, ts(f.since)).bind(4, ts(f.until));
    stmt.bind(5, static_cast<std::int64_t>(f.limit));
    std::vector<ProcessedEvent> out;
    while (stmt.step()) out.push_back(read_processed_event(stmt));
    return out;
  }

  std::optional<ProcessedEvent> find_processed_event(std::string_view event_id) override {
    auto stmt = c_.prepare(
        "SELECT event_id, source, action, entity_id, entity_type, created_at, payload_sha256 FROM processed_events"
        " WHERE event_id = ?1");
    stmt.bind(1, event_id);
    if (!stmt.step()) return std::nullopt;
    auto event = read_processed_event(stmt);
    stmt.drain();
    return event;
  }

  std::size_t purge_processed_events(Timestamp before, std::size_t limit) override {
    return purge(
        "DELETE FROM processed_events WHERE id IN (SELECT id FROM processed_events WHERE created_at < ?1"
        " ORDER BY created_at LIMIT ?2)",
        before, limit);
  }

  std::size_t requeue_outbox(std::string_view ordering_key, std::optional<std::string> document_id) override {
    // A document's events name its id in the payload (the audit event's
    // entity_id, the document event's document_id); ids are UUIDs, so the
    // pattern has no wildcard in it. A row still pending loses its lease or
    // retry time: it goes out again at once.
    auto stmt = c_.prepare(
        "INSERT INTO outbox_pending (seq, ordering_key, created_at)"
        " SELECT seq, ordering_key, created_at FROM outbox_events"
        " WHERE ordering_key = ?1 AND (?2 IS NULL OR instr(payload, ?2) > 0)"
        " ON CONFLICT (seq) DO UPDATE SET next_attempt_at = NULL, last_error = NULL");
    stmt.bind(1, ordering_key).bind(2, document_id);
    stmt.step();
    return static_cast<std::size_t>(c_.changes());
  }

  std::optional<RejectedMessage> find_rejected_message(std::string_view message_id) override {
    auto stmt = c_.prepare(
        "SELECT message_id, body, reason, detail, receive_count, rejected_at FROM rejected_messages"
        " WHERE message_id = ?1");
    stmt.bind(1, message_id);
    if (!stmt.step()) return std::nullopt;
    RejectedMessage m{stmt.text(0), stmt.blob(1), stmt.text(2), stmt.text(3), static_cast<int>(stmt.integer(4)),
                      timestamp(stmt.text(5))};
    stmt.drain();
    return m;
  }

  bool delete_rejected_message(std::string_view message_id) override {
    auto stmt = c_.prepare("DELETE FROM rejected_messages WHERE message_id = ?1");
    stmt.bind(1, message_id);
    stmt.step();
    return c_.changes() > 0;
  }

  std::optional<IdempotencyRecord> find_idempotency_key(std::string_view caller, std::string_view key,
                                                        Timestamp valid_since) override {
    auto stmt = c_.prepare(
        "SELECT caller, idempotency_key, request_sha256, document_id, created_at FROM idempotency_keys"
        " WHERE caller = ?1 AND idempotency_key = ?2 AND created_at >= ?3");
    stmt.bind(1, caller).bind(2, key).bind(3, format_timestamp(valid_since));
    if (!stmt.step()) return std::nullopt;
    return IdempotencyRecord{stmt.text(0), stmt.text(1), stmt.text(2), stmt.text(3), timestamp(stmt.text(4))};
  }

  bool record_idempotency_key(const IdempotencyRecord& r, Timestamp valid_since) override {
    auto stmt = c_.prepare(
        "INSERT INTO idempotency_keys (caller, idempotency_key, request_sha256, document_id, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (caller, idempotency_key) DO UPDATE SET"
        " request_sha256 = excluded.request_sha256, document_id = excluded.document_id,"
        " created_at = excluded.created_at WHERE idempotency_keys.created_at < ?6 RETURNING 1");
    stmt.bind(1, r.caller).bind(2, r.key).bind(3, r.request_sha256).bind(4, r.document_id);
    stmt.bind(5, format_timestamp(r.created_at)).bind(6, format_timestamp(valid_since));
    const bool recorded = stmt.step();
    stmt.drain();
    return recorded;
  }

  std::size_t purge_idempotency_keys(Timestamp before, std::size_t limit) override {
    return purge(
        "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ?1"
        " ORDER BY created_at LIMIT ?2)",
        before, limit);
  }

  std::size_t purge_rejected_messages(Timestamp before, std::size_t limit) override {
    return purge(
        "DELETE FROM rejected_messages WHERE id IN (SELECT id FROM rejected_messages WHERE rejected_at < ?1"
        " ORDER BY rejected_at LIMIT ?2)",
        before, limit);
  }

  std::vector<RejectedMessage> rejected_messages(std::size_t limit) override {
    auto stmt = c_.prepare(
        "SELECT message_id, body, reason, detail, receive_count, rejected_at FROM rejected_messages"
        " ORDER BY rejected_at DESC, id LIMIT ?1");
    stmt.bind(1, static_cast<std::int64_t>(limit));
    std::vector<RejectedMessage> out;
    while (stmt.step()) {
      out.push_back(RejectedMessage{stmt.text(0), stmt.blob(1), stmt.text(2), stmt.text(3),
                                    static_cast<int>(stmt.integer(4)), timestamp(stmt.text(5))});
    }
    return out;
  }

  std::vector<std::string> referenced_blobs(std::span<const std::string> sha256s) override {
    // Well under SQLite's bound on host parameters per statement.
    constexpr std::size_t kBatch = 500;
    std::vector<std::string> out;
    for (std::size_t start = 0; start < sha256s.size(); start += kBatch) {
      auto batch = sha256s.subspan(start, std::min(kBatch, sha256s.size() - start));
      std::string sql = "SELECT DISTINCT sha256 FROM documents WHERE sha256 IN (";
      for (std::size_t i = 0; i < batch.size(); ++i) sql += i == 0 ? "?" : ",?";
      sql += ")";
      auto stmt = c_.prepare(sql);
      for (std::size_t i = 0; i < batch.size(); ++i) stmt.bind(static_cast<int>(i + 1), batch[i]);
      while (stmt.step()) out.push_back(stmt.text(0));
    }
    return out;
  }

 bool appended_outbox() const { return appended_outbox_; }

 private:
  // An entity-set UPDATE (SET `set` WHERE `condition`; ?3 the time, ?4 the
  // reason when given), of at most `limit` documents, run entity by entity in
  // (created_at, id) order: SQLite is in-process, so that costs no round trips.
  std::vector<Document> update_entities(std::span<const EntityRef> entities, std::string_view set,
                                        std::string_view condition, std::size_t limit, Timestamp at,
                                        std::optional<std::string_view> reason) {
    const std::string sql = "UPDATE documents SET " + std::string(set) +
                            " WHERE id IN (SELECT id FROM documents WHERE entity_id = ?1 AND entity_type = ?2 AND " +
                            std::string(condition) + " ORDER BY created_at, id LIMIT ?5) RETURNING " +
                            kDocumentColumns;
    std::vector<Document> out;
    for (const auto& entity : entities) {
      if (out.size() >= limit) break;
      auto stmt = c_.prepare(sql);
      stmt.bind(1, entity.id).bind(2, to_string(entity.type)).bind(3, format_timestamp(at));
      if (reason) stmt.bind(4, *reason);
      stmt.bind(5, static_cast<std::int64_t>(std::min(limit - out.size(), kNoLimit)));
      auto rows = read_documents(stmt);
      std::sort(rows.begin(), rows.end(), [](const Document& a, const Document& b) {
        return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
      });
      std::move(rows.begin(), rows.end(), std::back_inserter(out));
    }
    return out;
  }

  // Runs a retention DELETE (?1 the time before which rows go, ?2 how many
  // at most); returns how many went.
  std::size_t purge(const char* sql, Timestamp before, std::size_t limit) {
    auto stmt = c_.prepare(sql);
    stmt.bind(1, format_timestamp(before)).bind(2, static_cast<std::int64_t>(limit));
    stmt.step();
    return static_cast<std::size_t>(c_.changes());
  }

  RecordOutcome record_one(const ProcessedEvent& e) {
    {
      auto stmt = c_.prepare(
          "INSERT INTO processed_events (id, created_at, updated_at, event_id, source, action,"
          " entity_id, entity_type, payload_sha256) VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
          " ON CONFLICT (event_id) DO NOTHING RETURNING id");
      stmt.bind(1, uuid_v4()).bind(2, format_timestamp(e.processed_at)).bind(3, e.event_id);
      stmt.bind(4, e.source).bind(5, e.action).bind(6, e.entity_id).bind(7, e.entity_type).bind(8, e.payload_sha256);
      bool inserted = stmt.step();
      stmt.drain();
      if (inserted) return RecordOutcome::recorded;
    }
    auto stmt = c_.prepare("SELECT payload_sha256 FROM processed_events WHERE event_id = ?1");
    stmt.bind(1, e.event_id);
    std::optional<std::string> stored;
    if (stmt.step()) stored = stmt.optional_text(0);
    stmt.drain();
    return existing_event_outcome(stored, e.payload_sha256);
  }

  Connection& c_;
  bool appended_outbox_ = false;
};

}  // namespace

bool run_transaction(Connection& c, const char* begin, const std::function<void(Transaction&)>& work) {
  c.exec(begin);
  try {
    SqliteTransaction tx(c);
    work(tx);
    c.exec("COMMIT");
    return tx.appended_outbox();
  } catch (...) {
    try {
      c.exec("ROLLBACK");
    } catch (const StoreError&) {
      // SQLite may have rolled back already (e.g. after SQLITE_FULL); the
      // original error is the one worth reporting.
    }
    throw;
  }
}

}  // namespace docvault::store::sqlite_detail
