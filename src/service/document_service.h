// DocumentService: every use case of docvault, and every transaction boundary.
//
// Each public member is one use case and runs in one store transaction: the
// document change and the events it causes (written to the outbox) commit
// together or not at all. Untrusted input is validated here and comes back as
// a FieldError; infrastructure failures (store::StoreError, blob::BlobError)
// propagate as exceptions for the caller's worker loop or HTTP layer.
//
// Thread-safety: stateless apart from its collaborators, which are all
// thread-safe; call it from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blob_store.h"
#include "domain/clock.h"
#include "domain/document.h"
#include "domain/entity_event.h"
#include "domain/events.h"
#include "domain/result.h"
#include "store/store.h"

namespace docvault::service {

// A listing request as it arrives (HTTP query parameters, unvalidated).
struct ListQuery {
  std::string entity_id;
  std::string entity_type;
  std::optional<std::string> status;
  std::optional<std::string> limit;
  std::optional<std::string> cursor;
};

struct DocumentPage {
  std::vector<Document> items;
  std::optional<std::string> next_cursor;  // opaque; absent on the last page
};

// How the handling of one incoming entity event ended.
enum class EventOutcome {
  processed,                // recorded, and its action applied
  duplicate,                // its event_id was recorded before: nothing done
  unsupported_entity_type,  // recorded, nothing to do (the spec: log and mark processed)
  event_id_reused,          // its event_id was recorded for a different event: nothing done
  entity_deleted,           // recorded; its entity was deleted before, which is final: nothing changed
};

struct EventResult {
  EventOutcome outcome;
  std::size_t documents_changed = 0;  // archived, suspended or reinstated
};

// What an incoming entity action does to the entity's documents: data, not
// code. `apply` changes them in one set-based statement and returns those it
// changed; each gets an audit and a document event `emits`, with `reason`.
struct EntityAction {
  std::string_view action;  // incoming: entity.deleted, ...
  std::string_view emits;   // outgoing: document.archived, ...
  std::string_view reason;
  store::EntityState leaves;  // the entity's lifecycle afterwards
  // The entities are distinct; at most `limit` documents come back, grouped
  // by entity in the order given; calling again changes the next ones.
  std::vector<Document> (*apply)(store::Transaction& tx, std::span<const EntityRef> entities,
                                 std::string_view reason, Timestamp at, std::size_t limit);
};

// The actions docvault ships: entity.deleted (archive), entity.suspended
// (suspend), entity.reinstated (lift the suspension).
const std::vector<EntityAction>& entity_actions();
const EntityAction* find_entity_action(std::string_view action);

// Documents changed (and their outbox rows built) per statement when an
// entity event is applied.
inline constexpr std::size_t kCascadeSlice = 5000;

inline constexpr std::size_t kDefaultPageSize = 50;
inline constexpr std::size_t kMaxPageSize = 200;

// Why an upload is refused for something other than a field's value: its
// entity was deleted (final) or is suspended now, or its Idempotency-Key was
// used before by the same caller for another request.
enum class UploadRefusal { entity_deleted, entity_suspended, idempotency_key_reused };

// What create() gives: the document (replayed() when an earlier request with
// the same Idempotency-Key created it); or a FieldError naming the field at
// fault; or, with refusal() set, a refusal (error() then names the field and
// says why).
class CreateResult : public Validated<Document> {
 public:
  using Validated<Document>::Validated;
  explicit CreateResult(UploadRefusal refusal);
  static CreateResult replay(Document document);
  std::optional<UploadRefusal> refusal() const { return refusal_; }
  bool replayed() const { return replayed_; }

 private:
  std::optional<UploadRefusal> refusal_;
  bool replayed_ = false;
};

// How long an Idempotency-Key is remembered by default.
inline constexpr std::chrono::hours kDefaultIdempotencyRetention{24};

class DocumentService {
 public:
  // `active_actions`: the entity actions the consumer handles (names from
  // entity_actions()); empty means all of them.
  DocumentService(store::Store& store, blob::BlobStore& blobs, const Clock& clock,
                  std::vector<std::string> active_actions = {},
                  std::chrono::hours idempotency_retention = kDefaultIdempotencyRetention);

  // Whether the consumer handles this action (one of entity_actions(), enabled).
  bool handles(std::string_view action) const;

  // Stores the content, then the document row and its document.created
  // events. Refused, with nothing written, while the entity is deleted (a
  // tombstone: final) or suspended. Race-safe against the entity's events:
  // the row is written under the entity's lock (Transaction::lock_entities)
  // after its lifecycle is read again, so an upload either commits before
  // the deletion's cascade (which then archives it) or sees the tombstone.
  // (A refusal found only under the lock leaves the content stored, unreferenced,
  // for the blob sweeper.)
  // `idempotency_key` (the Idempotency-Key header: 1-255 printable ASCII,
  // optionally in double quotes): the same caller repeating the same request
  // (fields and content) with the same key within the retention gets the
  // document the first one created, and nothing is written; another request
  // with that key is refused (idempotency_key_reused). Two at once: the
  // second waits for the first and replays it.
  CreateResult create(const DocumentUpload& upload, std::string_view content, const Actor& actor,
                      std::optional<std::string_view> idempotency_key = std::nullopt);

  // A streamed upload: begin_content() gives the writer the content goes to
  // as it arrives (blob/blob_store.h); create_streamed() validates the
  // upload, commits the content, then writes the row and events as create()
  // does. When the upload is refused the writer is dropped unstored, so a
  // refused upload leaves nothing behind.
  std::unique_ptr<blob::BlobWriter> begin_content();
  CreateResult create_streamed(const DocumentUpload& upload, std::unique_ptr<blob::BlobWriter> content,
                               const Actor& actor, std::optional<std::string_view> idempotency_key = std::nullopt);

  std::optional<Document> get(const DocumentId& id);

  Validated<DocumentPage> list(const ListQuery& query);

  // Archives one document (reason "manual"). Archiving an archived document
  // changes nothing and returns it as it is. Nothing when it does not exist.
  std::optional<Document> archive(const DocumentId& id, const Actor& actor);

  // Archives every active document of the entity in one transaction, set-based,
  // with an audit event and a document event per document, and tombstones the
  // entity (under its lock, like create); returns the ids archived. Documents archived before are left alone, so it is idempotent.
  // `cause` names what triggered it (the incoming event_id) and seeds the
  // outgoing event ids.
  std::vector<std::string> cascade_archive_by_entity(const EntityRef& entity, std::string_view reason,
                                                     std::string_view cause);

  // The same, inside a transaction the caller owns (the consumer records the
  // incoming event in the same transaction).
  std::vector<Document> cascade_archive_by_entity(store::Transaction& tx, const EntityRef& entity,
                                                  std::string_view reason, std::string_view cause,
                                                  const Actor& actor, Timestamp at);

  // Handles incoming entity events in one transaction: records them in
  // processed_events (a duplicate stops there, including one a concurrent
  // instance committed first), locks their entities, then applies their
  // actions, set-based, and records the entities' lifecycle (a deletion's
  // tombstone, a suspension). For entity.deleted that is the cascade archive,
  // with reason entity_deleted and the event's event_id as the cause of the
  // outgoing events. Deletion is final: any other event of a deleted entity
  // changes nothing (EventOutcome::entity_deleted). Events of
  // one entity apply in the order given. Every action must be handled
  // (handles()). Returns the result of each event, in order; when anything
  // fails, nothing is written.
  std::vector<EventResult> handle_entity_events(std::span<const EntityEvent* const> events);
  EventResult handle_entity_event(const EntityEvent& event);

  // Throws store::StoreUnavailable unless the database answers (readiness,
  // and the consumer's probe before it resumes).
  void check_database();

  // Keeps a message the consumer could not accept; false when that message
  // was recorded before.
  bool record_rejected_message(const store::RejectedMessage& message);

  // Streams a document's content (or the range [offset, offset+length)).
  void read_content(const Document& document, std::uint64_t offset, std::uint64_t length,
                    const std::function<bool(std::string_view)>& sink);

  // A URL from which a client may fetch the content directly (a presigned S3
  // GET, answering with the document's type and file name) for `expires`;
  // nothing when the blob store serves no such URLs.
  std::optional<std::string> content_url(const Document& document, std::chrono::seconds expires,
                                         std::string_view content_disposition);

 private:
  // create() and create_streamed(): `store_content` stores the content once
  // the upload passed its checks.
  CreateResult create_from(const DocumentUpload& upload, const Actor& actor,
                           std::optional<std::string_view> idempotency_key,
                           const std::function<blob::BlobInfo()>& store_content);

  store::Store& store_;
  blob::BlobStore& blobs_;
  const Clock& clock_;
  std::vector<std::string> active_actions_;
  std::chrono::hours idempotency_retention_;
};

// Opaque listing cursors: base64url of "<created_at>|<id>".
std::string encode_cursor(const store::Cursor& cursor);
std::optional<store::Cursor> decode_cursor(std::string_view text);

}  // namespace docvault::service
