#include "http/document_routes.h"

#include <cctype>


#include "http/api_error.h"
#include "log/log.h"
#include "runtime/parse.h"

namespace docvault::http {
namespace {

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

// The {id} path segment, or a 400 naming it.
std::optional<DocumentId> path_id(const httplib::Request& req, httplib::Response& res) {
  auto id = DocumentId::parse(req.matches[1].str());
  if (!id) respond(res, ApiError::bad_field(FieldError{"id", "must be a UUID"}));
  return id;
}

std::string etag(const Document& d) { return "\"" + d.sha256 + "\""; }

// A deleted entity is final (409); a suspended one may come back (423); a
// reused Idempotency-Key names another request (422).
ApiError refusal_error(service::UploadRefusal refusal, const FieldError& error) {
  const std::string message = error.field + " " + error.message;
  switch (refusal) {
    case service::UploadRefusal::entity_deleted: return {409, "entity_deleted", message, error.field};
    case service::UploadRefusal::entity_suspended: return {423, "entity_suspended", message, error.field};
    case service::UploadRefusal::idempotency_key_reused: return {422, "idempotency_key_reused", message, error.field};
  }
  return ApiError::internal();
}

void upload(service::DocumentService& documents, std::uint64_t max_upload_bytes,
            const httplib::Request& req, httplib::Response& res, const Actor& caller) {
  if (!req.is_multipart_form_data()) {
    respond(res, ApiError{415, "unsupported_media_type", "the body must be multipart/form-data", std::nullopt});
    return;
  }
  auto field = [&](const char* name) -> std::optional<std::string> {
    if (!req.has_file(name)) return std::nullopt;
    return req.get_file_value(name).content;
  };
  if (!req.has_file("file")) {
    respond(res, ApiError::bad_field(FieldError{"file", "is required"}));
    return;
  }
  const auto& file = req.get_file_value("file");
  if (file.content.size() > max_upload_bytes) {
    respond(res, ApiError{413, "payload_too_large",
                          "file is larger than " + std::to_string(max_upload_bytes) + " bytes", "file"});
    return;
  }
  DocumentUpload upload{field("entity_id").value_or(""), field("entity_type").value_or(""),
                        field("document_type"), file.filename, file.content_type};
  if (!req.has_file("entity_id")) {
    respond(res, ApiError::bad_field(FieldError{"entity_id", "is required"}));
    return;
  }
  if (!req.has_file("entity_type")) {
    respond(res, ApiError::bad_field(FieldError{"entity_type", "is required"}));
    return;
  }
  std::optional<std::string> idempotency_key;
  if (req.has_header("Idempotency-Key")) idempotency_key = req.get_header_value("Idempotency-Key");
  auto created = documents.create(upload, file.content, caller, idempotency_key);
  if (auto refusal = created.refusal()) {
    respond(res, refusal_error(*refusal, created.error()));
    return;
  }
  if (!created) {
    respond(res, ApiError::bad_field(created.error()));
    return;
  }
  // A retry with the same Idempotency-Key gets the first request's answer.
  if (created.replayed()) res.set_header("Idempotent-Replayed", "true");
  res.set_header("Location", "/v1/documents/" + created->id);
  respond_json(res, 201, document_json(*created));
}

void list(service::DocumentService& documents, const httplib::Request& req, httplib::Response& res) {
  service::ListQuery query{param(req, "entity_id").value_or(""), param(req, "entity_type").value_or(""),
                           param(req, "status"), param(req, "limit"), param(req, "cursor")};
  if (!req.has_param("entity_id")) {
    respond(res, ApiError::bad_field(FieldError{"entity_id", "is required"}));
    return;
  }
  if (!req.has_param("entity_type")) {
    respond(res, ApiError::bad_field(FieldError{"entity_type", "is required"}));
    return;
  }
  auto page = documents.list(query);
  if (!page) {
    respond(res, ApiError::bad_field(page.error()));
    return;
  }
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& d : page->items) items.push_back(document_json(d));
  respond_json(res, 200,
               {{"items", std::move(items)},
                {"next_cursor", page->next_cursor ? nlohmann::ordered_json(*page->next_cursor) : nullptr}});
}

std::optional<std::uint64_t> parse_offset(std::string_view text) { return runtime::parse_uint(text); }

void content(service::DocumentService& documents, std::chrono::seconds content_url_ttl,
             const httplib::Request& req, httplib::Response& res) {
  auto id = path_id(req, res);
  if (!id) return;
  auto redirect = param(req, "redirect");
  if (redirect && *redirect != "true" && *redirect != "false") {
    respond(res, ApiError::bad_field(FieldError{"redirect", "must be true or false"}));
    return;
  }
  auto document = documents.get(*id);
  if (!document) {
    respond(res, ApiError::not_found("no document with this id"));
    return;
  }
  if (document->suspended_at) {
    // The entity is suspended: its metadata stays readable, its content not.
    respond(res, ApiError{423, "suspended", "the document's entity is suspended", std::nullopt});
    return;
  }
  res.set_header("ETag", etag(*document));
  res.set_header("Cache-Control", "private, no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (req.get_header_value("If-None-Match") == etag(*document)) {
    res.status = 304;
    return;
  }
  auto disposition = content_disposition(document->filename);
  // A store without direct URLs (the filesystem) ignores redirect=true and
  // serves the bytes itself, so clients work the same against either.
  if (redirect == "true") {
    if (auto url = documents.content_url(*document, content_url_ttl, disposition)) {
      res.status = 302;
      res.set_header("Location", *url);
      // The URL is a short-lived credential: nobody keeps it.
      res.headers.erase("Cache-Control");
      res.set_header("Cache-Control", "no-store");
      return;
    }
  }
  res.set_header("Content-Disposition", disposition);
  res.set_header("Accept-Ranges", "bytes");
  auto size = document->size_bytes;
  auto range = parse_byte_range(req.get_header_value("Range"), size);
  if (range.kind == ByteRangeRequest::Kind::unsatisfiable) {
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    respond(res, ApiError{416, "range_not_satisfiable",
                          "the range starts past the end of the content (" + std::to_string(size) + " bytes)",
                          std::nullopt});
    return;
  }
  if (range.kind == ByteRangeRequest::Kind::whole) {
    range.offset = 0;
    range.length = size;
  } else {
    res.status = 206;
    res.set_header("Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                        std::to_string(range.offset + range.length - 1) + "/" +
                                        std::to_string(size));
  }
  // Streamed from the blob store in chunks: a large file is never held whole.
  // The headers are gone by then, so a failure can only cut the body short
  // (the client sees fewer bytes than Content-Length); it is logged.
  res.set_content_provider(
      static_cast<std::size_t>(range.length), document->content_type,
      [&documents, doc = *document, start = range.offset](std::size_t offset, std::size_t length,
                                                          httplib::DataSink& sink) {
        try {
          documents.read_content(doc, start + offset, length, [&sink](std::string_view chunk) {
            return sink.write(chunk.data(), chunk.size());
          });
          return true;
        } catch (const std::exception& e) {
          log::error("http", "content stream failed", {{"document_id", doc.id}, {"error", e.what()}});
          return false;
        }
      });
}

}  // namespace

nlohmann::ordered_json document_json(const Document& d) {
  auto optional_time = [](const std::optional<Timestamp>& t) {
    return t ? nlohmann::ordered_json(format_timestamp(*t)) : nlohmann::ordered_json(nullptr);
  };
  return {{"id", d.id},
          {"entity_id", d.entity.id},
          {"entity_type", to_string(d.entity.type)},
          {"document_type", d.document_type},
          {"filename", d.filename},
          {"content_type", d.content_type},
          {"size_bytes", d.size_bytes},
          {"sha256", d.sha256},
          {"status", to_string(d.status)},
          {"archived_at", optional_time(d.archived_at)},
          {"archive_reason", d.archive_reason ? nlohmann::ordered_json(*d.archive_reason) : nullptr},
          {"suspended_at", optional_time(d.suspended_at)},
          {"created_at", format_timestamp(d.created_at)},
          {"updated_at", format_timestamp(d.updated_at)}};
}

std::string content_disposition(std::string_view filename) {
  std::string ascii;
  std::string encoded;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : filename) {
    bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != ';' && c != '%' && c != '/';
    ascii.push_back(plain ? static_cast<char>(c) : '_');
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[c >> 4]);
      encoded.push_back(kHex[c & 0x0f]);
    }
  }
  if (ascii.empty()) ascii = "document";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

ByteRangeRequest parse_byte_range(std::string_view header, std::uint64_t size) {
  using Kind = ByteRangeRequest::Kind;
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit) || header.find(',') != std::string_view::npos) return {};
  auto spec = header.substr(kUnit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  auto first_text = spec.substr(0, dash);
  auto last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // "-N": the last N bytes
    auto suffix = parse_offset(last_text);
    if (!suffix) return {};
    if (*suffix == 0 || size == 0) return {Kind::unsatisfiable};
    auto length = std::min(*suffix, size);
    return {Kind::partial, size - length, length};
  }
  auto first = parse_offset(first_text);
  if (!first) return {};
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    auto given = parse_offset(last_text);
    if (!given || *given < *first) return {};
    last = std::min(*given, last);
  }
  if (*first >= size) return {Kind::unsatisfiable};
  return {Kind::partial, *first, last - *first + 1};
}

void register_document_routes(Router& router, service::DocumentService& documents, const Authenticator& auth,
                              std::uint64_t max_upload_bytes, std::chrono::seconds content_url_ttl) {
  using auth::kScopeDocumentsRead;
  using auth::kScopeDocumentsWrite;
  router.route("/v1/documents",
               {{"POST", auth.require(kScopeDocumentsWrite, [&documents, max_upload_bytes](const httplib::Request& req,
                                                                                          httplib::Response& res,
                                                                                          const Actor& caller) {
                   upload(documents, max_upload_bytes, req, res, caller);
                 })},
                {"GET", auth.require(kScopeDocumentsRead, [&documents](const httplib::Request& req, httplib::Response& res) {
                   list(documents, req, res);
                 })}});
  router.route(R"(/v1/documents/([^/]+))",
               {{"GET", auth.require(kScopeDocumentsRead, [&documents](const httplib::Request& req, httplib::Response& res) {
                   auto id = path_id(req, res);
                   if (!id) return;
                   auto document = documents.get(*id);
                   if (!document) return respond(res, ApiError::not_found("no document with this id"));
                   res.set_header("ETag", etag(*document));
                   respond_json(res, 200, document_json(*document));
                 })}});
  router.route(R"(/v1/documents/([^/]+)/content)",
               {{"GET", auth.require(kScopeDocumentsRead, [&documents, content_url_ttl](const httplib::Request& req,
                                                                                       httplib::Response& res) {
                   content(documents, content_url_ttl, req, res);
                 })}});
  router.route(R"(/v1/documents/([^/]+)/archive)",
               {{"POST", auth.require(kScopeDocumentsWrite, [&documents](const httplib::Request& req,
                                                                        httplib::Response& res, const Actor& caller) {
                   auto id = path_id(req, res);
                   if (!id) return;
                   auto document = documents.archive(*id, caller);
                   if (!document) return respond(res, ApiError::not_found("no document with this id"));
                   respond_json(res, 200, document_json(*document));
                 })}});
}

}  // namespace docvault::http
