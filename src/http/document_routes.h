// The document API under /v1/documents: upload, metadata, listing, content
// download and archive. Maps requests to DocumentService calls and results to
// JSON; validation errors become 400s naming the field.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "domain/document.h"
#include "http/server.h"
#include "service/document_service.h"

namespace docvault::http {

void register_document_routes(Router& router, service::DocumentService& documents,
                              std::uint64_t max_upload_bytes);

nlohmann::ordered_json document_json(const Document& document);

// Content-Disposition for a download: an ASCII fallback with anything unsafe
// replaced, and the exact name as RFC 5987 UTF-8.
std::string content_disposition(std::string_view filename);

}  // namespace docvault::http
