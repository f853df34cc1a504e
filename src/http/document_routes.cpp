#include "http/document_routes.h"

#include <cctype>

#include "http/api_error.h"
#include "http/multipart.h"
#include "log/log.h"
#include "runtime/parse.h"

namespace docvault::http {
namespace {

std::optional<std::string> param(const Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.param(name);
}

// The {id} path segment, or a 400 naming it.
std::optional<DocumentId> path_id(const Request& req, Response& res) {
  auto id = DocumentId::parse(req.matches.at(1));
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

// A refused upload field: a bad filename has a code of its own (clients show
// it to the person who picked the file).
ApiError upload_error(const FieldError& error) {
  if (error.field == "filename") return ApiError{400, "invalid_filename", error.field + " " + error.message, error.field};
  return ApiError::bad_field(error);
}

// Takes a multipart/form-data upload as it arrives: the parts `file`,
// `entity_id`, `entity_type` and (optional) `document_type`, in any order,
// each at most once; other parts are ignored. The file is counted as it
// comes (over the limit: 413 at once) and streamed to the blob store's writer
// with its SHA-256 computed on the way; the document is created when the body
// is complete and valid. A refused upload drops the writer, which removes its
// temporary file: nothing is left behind.
class UploadReader final : public BodyReader {
 public:
  static constexpr std::size_t kMaxFieldBytes = 4096;

  UploadReader(service::DocumentService& documents, std::uint64_t max_file_bytes, std::string boundary, Actor caller,
               std::optional<std::string> idempotency_key)
      : documents_(documents),
        max_file_bytes_(max_file_bytes),
        caller_(std::move(caller)),
        idempotency_key_(std::move(idempotency_key)),
        parser_(std::move(boundary), {[this](const PartHeaders& part) { return on_part(part); },
                                      [this](std::string_view data) { return on_data(data); },
                                      [] { return true; }}) {}

  bool consume(std::string_view bytes, Response& res) override {
    if (parser_.feed(bytes)) return true;
    refuse(res);
    return false;
  }

  void finish(Response& res) override {
    if (!parser_.finish()) return refuse(res);
    if (!file_) return respond(res, ApiError::bad_field(FieldError{"file", "is required"}));
    if (!entity_id_) return respond(res, ApiError::bad_field(FieldError{"entity_id", "is required"}));
    if (!entity_type_) return respond(res, ApiError::bad_field(FieldError{"entity_type", "is required"}));
    DocumentUpload upload{*entity_id_, *entity_type_, document_type_, filename_, content_type_};
    auto created = documents_.create_streamed(upload, std::move(content_), caller_, idempotency_key_);
    if (auto refusal = created.refusal()) return respond(res, refusal_error(*refusal, created.error()));
    if (!created) return respond(res, upload_error(created.error()));
    // A retry with the same Idempotency-Key gets the first request's answer.
    if (created.replayed()) res.set_header("Idempotent-Replayed", "true");
    res.set_header("Location", "/v1/documents/" + created->id);
    respond_json(res, 201, document_json(*created));
  }

 private:
  bool on_part(const PartHeaders& part) {
    std::optional<std::string>* slot = nullptr;
    if (part.name == "file") slot = &file_;
    if (part.name == "entity_id") slot = &entity_id_;
    if (part.name == "entity_type") slot = &entity_type_;
    if (part.name == "document_type") slot = &document_type_;
    current_ = slot;
    current_name_ = part.name;
    if (!slot) return true;  // not ours: its data is skipped
    if (slot->has_value()) {
      error_ = ApiError::bad_field(FieldError{part.name, "is given more than once"});
      return false;
    }
    slot->emplace();
    if (slot == &file_) {
      filename_ = part.filename.value_or("");
      content_type_ = part.content_type;
      content_ = documents_.begin_content();
    }
    return true;
  }

  bool on_data(std::string_view data) {
    if (!current_) return true;
    auto& value = **current_;
    if (current_ == &file_) {
      file_bytes_ += data.size();
      if (file_bytes_ > max_file_bytes_) {
        error_ = ApiError{413, "payload_too_large", "file is larger than " + std::to_string(max_file_bytes_) + " bytes",
                          "file"};
        return false;
      }
      content_->write(data);  // to the blob store's temporary file, never held whole
      return true;
    }
    if (value.size() + data.size() > kMaxFieldBytes) {
      error_ = ApiError::bad_field(FieldError{current_name_, "must be at most 4096 bytes"});
      return false;
    }
    value.append(data);
    return true;
  }

  void refuse(Response& res) { respond(res, error_ ? *error_ : error_for_status(400)); }

  service::DocumentService& documents_;
  const std::uint64_t max_file_bytes_;
  const Actor caller_;
  const std::optional<std::string> idempotency_key_;
  MultipartParser parser_;
  // file_ only marks that the part came; its bytes went to content_.
  std::optional<std::string> file_, entity_id_, entity_type_, document_type_;
  std::unique_ptr<blob::BlobWriter> content_;
  std::uint64_t file_bytes_ = 0;
  std::string filename_, content_type_;
  std::optional<std::string>* current_ = nullptr;
  std::string current_name_;
  std::optional<ApiError> error_;
};

void list(service::DocumentService& documents, const Request& req, Response& res) {
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
             const Request& req, Response& res) {
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
  if (req.header("If-None-Match") == etag(*document)) {
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
  auto range = parse_byte_range(req.header("Range"), size);
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
      range.length, document->content_type,
      [&documents, doc = *document, start = range.offset](std::uint64_t offset, std::uint64_t length,
                                                          const std::function<bool(std::string_view)>& sink) {
        try {
          documents.read_content(doc, start + offset, length, sink);
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
                              std::uint64_t max_upload_bytes, std::chrono::seconds content_url_ttl,
                              std::uint64_t max_upload_body_bytes) {
  using auth::kScopeDocumentsRead;
  using auth::kScopeDocumentsWrite;
  if (max_upload_body_bytes == 0) max_upload_body_bytes = max_upload_bytes + 64 * 1024;
  router.route("/v1/documents",
               {{"POST", auth.require_streaming(
                             kScopeDocumentsWrite, max_upload_body_bytes,
                             [&documents, max_upload_bytes](const Request& req, Response& res,
                                                            const Actor& caller) -> std::unique_ptr<BodyReader> {
                               auto boundary = MultipartParser::boundary_of(req.header("Content-Type"));
                               if (!boundary) {
                                 respond(res, ApiError{415, "unsupported_media_type",
                                                       "the body must be multipart/form-data", std::nullopt});
                                 return nullptr;
                               }
                               std::optional<std::string> key;
                               if (req.has_header("Idempotency-Key")) key = req.header("Idempotency-Key");
                               return std::make_unique<UploadReader>(documents, max_upload_bytes, std::move(*boundary),
                                                                     caller, std::move(key));
                             })},
                {"GET", auth.require(kScopeDocumentsRead, [&documents](const Request& req, Response& res) {
                   list(documents, req, res);
                 })}});
  router.route(R"(/v1/documents/([^/]+))",
               {{"GET", auth.require(kScopeDocumentsRead, [&documents](const Request& req, Response& res) {
                   auto id = path_id(req, res);
                   if (!id) return;
                   auto document = documents.get(*id);
                   if (!document) return respond(res, ApiError::not_found("no document with this id"));
                   res.set_header("ETag", etag(*document));
                   respond_json(res, 200, document_json(*document));
                 })}});
  router.route(R"(/v1/documents/([^/]+)/content)",
               {{"GET", auth.require(kScopeDocumentsRead, [&documents, content_url_ttl](const Request& req,
                                                                                       Response& res) {
                   content(documents, content_url_ttl, req, res);
                 })}});
  router.route(R"(/v1/documents/([^/]+)/archive)",
               {{"POST", auth.require(kScopeDocumentsWrite, [&documents](const Request& req,
                                                                        Response& res, const Actor& caller) {
                   auto id = path_id(req, res);
                   if (!id) return;
                   auto document = documents.archive(*id, caller);
                   if (!document) return respond(res, ApiError::not_found("no document with this id"));
                   respond_json(res, 200, document_json(*document));
                 })}});
}

}  // namespace docvault::http
