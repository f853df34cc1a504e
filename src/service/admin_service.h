// AdminService: the operator's repair tools, behind the admin API and the
// `docvault admin` CLI alike.
//
//   - list processed events (by entity, by time);
//   - replay an event: run its entity's cascade again, in one transaction,
//     with the event's own id as the cause, so it is idempotent and emits
//     only what is missing (documents still active);
//   - re-publish the outbox events of an entity or a document: their rows are
//     marked unpublished and the relay publishes them again, same ids;
//   - list rejected messages, and re-drive one back to the entity-events
//     queue after a fix (then it is no longer a rejected message);
//   - retention: delete processed events and rejected messages past their
//     age, in small batches.
//
// Thread-safety: stateless apart from its collaborators; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "domain/clock.h"
#include "domain/result.h"
#include "service/document_service.h"
#include "store/store.h"

namespace docvault::service {

// Sends a rejected message's body back to the queue it came from.
class MessageRedriver {
 public:
  virtual ~MessageRedriver() = default;
  // Throws when the message could not be sent.
  virtual void redrive(const store::RejectedMessage& message) = 0;
};

// A processed-events query as it arrives (HTTP parameters or CLI options).
struct ProcessedEventQuery {
  std::optional<std::string> entity_id;
  std::optional<std::string> entity_type;
  std::optional<std::string> since;  // ISO 8601, as the API writes timestamps
  std::optional<std::string> until;
  std::optional<std::string> limit;
};

struct ReplayResult {
  store::ProcessedEvent event;
  bool replayed = false;          // false: nothing to replay for this action or entity type
  std::size_t documents_archived = 0;
};

enum class RedriveOutcome { redriven, not_found, no_queue };

class AdminService {
 public:
  // `redriver` may be null (no queue configured): redrive then answers no_queue.
  AdminService(store::Store& store, DocumentService& documents, const Clock& clock, MessageRedriver* redriver);

  Validated<std::vector<store::ProcessedEvent>> processed_events(const ProcessedEventQuery& query);
  std::optional<ReplayResult> replay(const std::string& event_id);
  // Exactly one of entity_id and document_id; a FieldError names what is wrong.
  // Nothing when the document does not exist.
  Validated<std::optional<std::size_t>> republish(const std::optional<std::string>& entity_id,
                                                  const std::optional<std::string>& document_id);
  std::vector<store::RejectedMessage> rejected_messages(std::size_t limit);
  RedriveOutcome redrive(const std::string& message_id);

  struct Retention {
    std::chrono::hours processed_events;
    std::chrono::hours rejected_messages;
    std::chrono::hours idempotency_keys;
  };
  struct Purged {
    std::size_t processed_events = 0;
    std::size_t rejected_messages = 0;
    std::size_t idempotency_keys = 0;
  };
  Purged purge_expired(const Retention& retention);

 private:
  store::Store& store_;
  DocumentService& documents_;
  const Clock& clock_;
  MessageRedriver* redriver_;
};

}  // namespace docvault::service
