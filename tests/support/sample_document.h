// A document row as a test stores it directly (tx.insert_document), without
// an upload: active, "general", a PDF, made at `created`, with a fresh id and
// no content behind its SHA-256. Tests set whatever else they need.
#pragma once

#include <string>

#include "domain/document.h"
#include "domain/uuid.h"

namespace docvault::testing {

inline Document make_document(const EntityRef& entity, Timestamp created) {
  Document d;
  d.id = uuid_v4();
  d.entity = entity;
  d.document_type = "general";
  d.filename = "file.pdf";
  d.content_type = "application/pdf";
  d.size_bytes = 42;
  d.sha256 = std::string(64, 'b');
  d.created_at = created;
  d.updated_at = created;
  return d;
}

}  // namespace docvault::testing
