// Documents: the metadata docvault keeps for each stored file.
//
// A document belongs to one entity, is created `active`, and may be archived
// once; archiving is a one-way state change that keeps the content and
// records when and why. Content is addressed by its SHA-256, which is also the
// document's ETag. Ids are random UUIDs, never derived from user input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/clock.h"
#include "domain/entity.h"
#include "domain/result.h"

namespace docvault {

enum class DocumentStatus { active, archived };

std::string_view to_string(DocumentStatus status);
std::optional<DocumentStatus> parse_document_status(std::string_view text);

// Why a document was archived: the spec's cascade reason and the API's own.
inline constexpr std::string_view kReasonEntityDeleted = "entity_deleted";
inline constexpr std::string_view kReasonManual = "manual";
inline constexpr std::string_view kReasonEntitySuspended = "entity_suspended";
inline constexpr std::string_view kReasonEntityReinstated = "entity_reinstated";

// A document id that has been checked: canonical lowercase UUID text.
class DocumentId {
 public:
  static std::optional<DocumentId> parse(std::string_view text);
  static DocumentId generate();
  const std::string& str() const { return value_; }
  bool operator==(const DocumentId&) const = default;

 private:
  explicit DocumentId(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

struct Document {
  std::string id;
  EntityRef entity;
  std::string document_type;
  std::string filename;
  std::string content_type;
  std::uint64_t size_bytes = 0;
  std::string sha256;
  DocumentStatus status = DocumentStatus::active;
  std::optional<Timestamp> archived_at;
  std::optional<std::string> archive_reason;
  // Set while the document's entity is suspended: hidden from listings, its
  // content refused (423), its metadata still readable.
  std::optional<Timestamp> suspended_at;
  Timestamp created_at;
  Timestamp updated_at;
  bool operator==(const Document&) const = default;
};

// What a caller supplies to create a document, before validation.
struct DocumentUpload {
  std::string entity_id;
  std::string entity_type;
  std::optional<std::string> document_type;
  std::string filename;
  std::string content_type;
};

// The validated metadata of a new document (content is handled separately).
struct NewDocument {
  EntityRef entity;
  std::string document_type;
  std::string filename;
  std::string content_type;
};

inline constexpr std::string_view kDefaultDocumentType = "general";
inline constexpr std::string_view kDefaultContentType = "application/octet-stream";
inline constexpr std::string_view kDefaultFilename = "document";

// Checks every field of an upload; the error names the first bad field
// (entity_id, entity_type, document_type, filename, content_type).
Validated<NewDocument> validate_upload(const DocumentUpload& upload);

}  // namespace docvault
