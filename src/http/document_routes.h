// The document API under /v1/documents: upload, metadata, listing, content
// download and archive. Maps requests to DocumentService calls and results to
// JSON; validation errors become 400s naming the field.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "domain/document.h"
#include "http/auth.h"
#include "http/server.h"
#include "service/document_service.h"

namespace docvault::http {

// Reading needs the documents:read scope, uploading and archiving
// documents:write (`auth`); the caller becomes the actor of the audit events.
// An upload streams (multipart/form-data, http/multipart.h): its body may be
// `max_upload_body_bytes` long in all (0: the file limit plus 64 KiB for the
// framing), its file part `max_upload_bytes`.
// `content_url_ttl`: how long the URL of a redirected download is valid.
void register_document_routes(Router& router, service::DocumentService& documents, const Authenticator& auth,
                              std::uint64_t max_upload_bytes,
                              std::chrono::seconds content_url_ttl = std::chrono::seconds(300),
                              std::uint64_t max_upload_body_bytes = 0);

nlohmann::ordered_json document_json(const Document& document);

// Content-Disposition for a download: an ASCII fallback with anything unsafe
// replaced, and the exact name as RFC 5987 UTF-8.
std::string content_disposition(std::string_view filename);

// What a download's Range header asks of `size` bytes. One "bytes=" range is
// served (206); no header, several ranges or a header that does not parse
// get the whole content (RFC 9110 lets a server ignore Range); a range that
// starts at or past the end is unsatisfiable (416).
struct ByteRangeRequest {
  enum class Kind { whole, partial, unsatisfiable };
  Kind kind = Kind::whole;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};
ByteRangeRequest parse_byte_range(std::string_view header, std::uint64_t size);

}  // namespace docvault::http
