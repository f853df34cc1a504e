#include "http/document_routes.h"

#include <cctype>

#include "http/api_error.h"

namespace docvault::http {
namespace {

constexpr const char* kJson = "application/json";

void respond_json(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

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

void upload(service::DocumentService& documents, std::uint64_t max_upload_bytes,
            const httplib::Request& req, httplib::Response& res) {
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
  auto created = documents.create(upload, file.content, Actor::anonymous());
  if (!created) {
    respond(res, ApiError::bad_field(created.error()));
    return;
  }
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

void content(service::DocumentService& documents, const httplib::Request& req, httplib::Response& res) {
  auto id = path_id(req, res);
  if (!id) return;
  auto document = documents.get(*id);
  if (!document) {
    respond(res, ApiError::not_found("no document with this id"));
    return;
  }
  res.set_header("ETag", etag(*document));
  res.set_header("Cache-Control", "private, no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  if (req.get_header_value("If-None-Match") == etag(*document)) {
    res.status = 304;
    return;
  }
  res.set_header("Content-Disposition", content_disposition(document->filename));
  // Streamed from the blob store in chunks: a large file is never held whole.
  auto size = document->size_bytes;
  res.set_content_provider(
      size, document->content_type,
      [&documents, doc = *document](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        documents.read_content(doc, offset, length,
                               [&sink](std::string_view chunk) { return sink.write(chunk.data(), chunk.size()); });
        return true;
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

void register_document_routes(Router& router, service::DocumentService& documents,
                              std::uint64_t max_upload_bytes) {
  router.route("/v1/documents",
               {{"POST", [&documents, max_upload_bytes](const httplib::Request& req, httplib::Response& res) {
                   upload(documents, max_upload_bytes, req, res);
                 }},
                {"GET", [&documents](const httplib::Request& req, httplib::Response& res) {
                   list(documents, req, res);
                 }}});
  router.route(R"(/v1/documents/([^/]+))",
               {{"GET", [&documents](const httplib::Request& req, httplib::Response& res) {
                   auto id = path_id(req, res);
                   if (!id) return;
                   auto document = documents.get(*id);
                   if (!document) return respond(res, ApiError::not_found("no document with this id"));
                   res.set_header("ETag", etag(*document));
                   respond_json(res, 200, document_json(*document));
                 }}});
  router.route(R"(/v1/documents/([^/]+)/content)",
               {{"GET", [&documents](const httplib::Request& req, httplib::Response& res) {
                   content(documents, req, res);
                 }}});
  router.route(R"(/v1/documents/([^/]+)/archive)",
               {{"POST", [&documents](const httplib::Request& req, httplib::Response& res) {
                   auto id = path_id(req, res);
                   if (!id) return;
                   auto document = documents.archive(*id, Actor::anonymous());
                   if (!document) return respond(res, ApiError::not_found("no document with this id"));
                   respond_json(res, 200, document_json(*document));
                 }}});
}

}  // namespace docvault::http
