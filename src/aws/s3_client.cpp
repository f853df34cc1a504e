#include "aws/s3_client.h"

#include <pugixml.hpp>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "aws/error_response.h"
#include "aws/sigv4.h"
#include "runtime/iso8601.h"
#include "runtime/parse.h"

namespace docvault::aws {

namespace {

using std::chrono::system_clock;

std::string request_id_of(const HttpResponse& response) {
  const std::string* id = response.header("x-amz-request-id");
  return id ? *id : "";
}

std::optional<system_clock::time_point> civil_time(int year, unsigned month, unsigned day, int hour,
                                                   int minute, int second) {
  std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!date.ok() || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second);
}

// "2025-10-23T12:34:56.789Z", as ListObjectsV2 writes LastModified; to the
// second, as HeadObject's Last-Modified.
std::optional<system_clock::time_point> parse_iso8601(const std::string& text) {
  auto parsed = runtime::parse_iso8601(text);
  if (!parsed) return std::nullopt;
  return std::chrono::floor<std::chrono::seconds>(*parsed);
}

// "Wed, 21 Oct 2015 07:28:00 GMT", as HeadObject's Last-Modified.
std::optional<system_clock::time_point> parse_http_date(const std::string& text) {
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int year = 0, hour = 0, minute = 0, second = 0;
  unsigned day = 0;
  char month_name[4] = {};
  if (std::sscanf(text.c_str(), "%*[^,], %u %3s %d %d:%d:%d", &day, month_name, &year, &hour, &minute,
                  &second) != 6) {
    return std::nullopt;
  }
  for (unsigned m = 0; m < kMonths.size(); ++m) {
    if (std::strcmp(kMonths[m], month_name) == 0) return civil_time(year, m + 1, day, hour, minute, second);
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_size(std::string_view text) { return runtime::parse_uint(text); }

// The response document, or AwsError("InvalidResponse") for a 2xx we cannot read.
pugi::xml_document parse_xml(const HttpResponse& response, std::string_view action) {
  pugi::xml_document document;
  if (!document.load_buffer(response.body.data(), response.body.size())) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse",
                   std::string(action) + ": the response is not XML", request_id_of(response));
  }
  // CompleteMultipartUpload may answer 200 and still fail, in the body.
  if (std::strcmp(document.document_element().name(), "Error") == 0) {
    HttpResponse failed = response;
    failed.status = 500;
    throw parse_s3_error(failed);
  }
  return document;
}

std::string escape_xml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

void add_encryption(Headers& headers, const S3Encryption& encryption) {
  if (encryption.algorithm.empty()) return;
  headers.push_back({"x-amz-server-side-encryption", encryption.algorithm});
  if (encryption.algorithm == "aws:kms" && !encryption.kms_key_id.empty()) {
    headers.push_back({"x-amz-server-side-encryption-aws-kms-key-id", encryption.kms_key_id});
  }
}

std::string status_code_name(long status) {
  switch (status) {
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    default: return "HTTP" + std::to_string(status);
  }
}

}  // namespace

AwsError parse_s3_error(const HttpResponse& response) {
  return error_from_response(response, status_code_name(response.status));
}

S3Client::S3Client(S3ClientOptions options, ServiceClientOptions client)
    : options_(std::move(options)),
      client_("s3",
              [&] {
                // The endpoint is resolved before `client` is moved into the ServiceClient.
                endpoint_ = EndpointResolver("s3", client.environment).resolve();
                return std::move(client);
              }(),
              &parse_s3_error) {
  if (options_.bucket.empty()) throw std::invalid_argument("S3Client: no bucket");
  bool path_style = options_.force_path_style || options_.bucket.find('.') != std::string::npos;
  if (path_style) {
    path_prefix_ = "/" + uri_encode(options_.bucket);
    return;
  }
  auto parts = parse_url(endpoint_.url);
  if (!parts) throw AwsError(0, "InvalidConfiguration", "not an http(s) endpoint: " + endpoint_.url);
  endpoint_.url = parts->scheme + "://" + options_.bucket + "." + parts->authority +
                  (parts->path == "/" ? "" : parts->path);
}

ServiceRequest S3Client::request_for(std::string_view method, std::string_view key, std::string query) const {
  ServiceRequest request;
  request.endpoint = endpoint_;
  request.method = std::string(method);
  request.path = path_prefix_ + "/" + uri_encode(key, true);
  request.query = std::move(query);
  request.timeout = options_.transfer_timeout;
  return request;
}

void S3Client::put_object(std::string_view key, std::string_view body, std::string_view sha256_hex,
                          const S3PutOptions& options, std::stop_token stop) const {
  auto request = request_for("PUT", key);
  request.headers.push_back({"Content-Type", options.content_type});
  add_encryption(request.headers, options.encryption);
  if (body.empty()) {
    request.body.clear();
  } else {
    request.body_view = body;
  }
  request.payload_hash = std::string(sha256_hex);
  client_.call(request, stop);
}

std::string S3Client::create_multipart_upload(std::string_view key, const S3PutOptions& options,
                                              std::stop_token stop) const {
  auto request = request_for("POST", key, "uploads=");
  request.headers.push_back({"Content-Type", options.content_type});
  add_encryption(request.headers, options.encryption);
  auto response = client_.call(request, stop);
  auto document = parse_xml(response, "CreateMultipartUpload");
  std::string upload_id = document.document_element().child("UploadId").text().as_string();
  if (upload_id.empty()) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse", "CreateMultipartUpload: no UploadId",
                   request_id_of(response));
  }
  return upload_id;
}

std::string S3Client::upload_part(std::string_view key, std::string_view upload_id, int part_number,
                                  std::string_view body, std::string_view sha256_hex, std::stop_token stop) const {
  auto request = request_for("PUT", key,
                             "partNumber=" + std::to_string(part_number) + "&uploadId=" + uri_encode(upload_id));
  // Without a type curl would call the body a form.
  request.headers.push_back({"Content-Type", "application/octet-stream"});
  request.body_view = body;
  request.payload_hash = std::string(sha256_hex);
  auto response = client_.call(request, stop);
  const std::string* etag = response.header("ETag");
  if (etag == nullptr || etag->empty()) {
    throw AwsError(static_cast<int>(response.status), "InvalidResponse", "UploadPart: no ETag",
                   request_id_of(response));
  }
  return *etag;
}

void S3Client::complete_multipart_upload(std::string_view key, std::string_view upload_id,
                                         std::span<const S3CompletedPart> parts, std::stop_token stop) const {
  auto request = request_for("POST", key, "uploadId=" + uri_encode(upload_id));
  std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& part : parts) {
    body += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber><ETag>" +
            escape_xml(part.etag) + "</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  request.headers.push_back({"Content-Type", "application/xml"});
  request.body = std::move(body);
  auto response = client_.call(request, stop);
  (void)parse_xml(response, "CompleteMultipartUpload");
}

void S3Client::abort_multipart_upload(std::string_view key, std::string_view upload_id,
                                      std::stop_token stop) const {
  client_.call(request_for("DELETE", key, "uploadId=" + uri_encode(upload_id)), stop);
}

std::optional<S3ObjectInfo> S3Client::head_object(std::string_view key, std::stop_token stop) const {
  try {
    auto response = client_.call(request_for("HEAD", key), stop);
    S3ObjectInfo info;
    if (const auto* length = response.header("Content-Length")) info.size = parse_size(*length).value_or(0);
    if (const auto* etag = response.header("ETag")) info.etag = *etag;
    if (const auto* modified = response.header("Last-Modified")) {
      info.last_modified = parse_http_date(*modified).value_or(system_clock::time_point{});
    }
    return info;
  } catch (const AwsError& error) {
    if (error.http_status() == 404) return std::nullopt;
    throw;
  }
}

std::uint64_t S3Client::get_object(std::string_view key, std::uint64_t offset, std::optional<std::uint64_t> length,
                                   const BodySink& sink, std::stop_token stop) const {
  constexpr int kMaxResumes = 3;
  std::uint64_t delivered = 0;
  for (int resumes = 0;; ++resumes) {
    auto request = request_for("GET", key);
    std::uint64_t first = offset + delivered;
    if (length) {
      if (delivered == *length) return delivered;
      request.headers.push_back(
          {"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(offset + *length - 1)});
    } else if (first > 0) {
      request.headers.push_back({"Range", "bytes=" + std::to_string(first) + "-"});
    }
    std::uint64_t before = delivered;
    request.body_sink = [&](std::string_view chunk) {
      delivered += chunk.size();
      return sink(chunk);
    };
    try {
      client_.call(request, stop);
      return delivered;
    } catch (const AwsError& error) {
      // No byte out: the service client has retried already. Some bytes out:
      // carry on from the first one the sink has not seen.
      if (delivered == before || !is_retryable(error) || resumes >= kMaxResumes) throw;
    }
  }
}

void S3Client::delete_object(std::string_view key, std::stop_token stop) const {
  try {
    client_.call(request_for("DELETE", key), stop);
  } catch (const AwsError& error) {
    if (error.http_status() != 404) throw;
  }
}

S3ListPage S3Client::list_objects_v2(std::string_view prefix, std::string_view continuation_token, int max_keys,
                                     std::stop_token stop) const {
  std::string query;
  if (!continuation_token.empty()) query += "continuation-token=" + uri_encode(continuation_token) + "&";
  query += "list-type=2&max-keys=" + std::to_string(max_keys) + "&prefix=" + uri_encode(prefix);
  ServiceRequest request;
  request.endpoint = endpoint_;
  request.method = "GET";
  request.path = path_prefix_.empty() ? "/" : path_prefix_;
  request.query = std::move(query);
  request.timeout = options_.transfer_timeout;
  auto response = client_.call(request, stop);
  auto document = parse_xml(response, "ListObjectsV2");
  auto root = document.document_element();
  S3ListPage page;
  for (auto contents : root.children("Contents")) {
    S3ListedObject object;
    object.key = contents.child("Key").text().as_string();
    object.size = parse_size(contents.child("Size").text().as_string()).value_or(0);
    object.last_modified =
        parse_iso8601(contents.child("LastModified").text().as_string()).value_or(system_clock::time_point{});
    page.objects.push_back(std::move(object));
  }
  if (std::string_view(root.child("IsTruncated").text().as_string()) == "true") {
    page.next_continuation_token = root.child("NextContinuationToken").text().as_string();
  }
  return page;
}

std::string S3Client::presign_get_object(std::string_view key, std::chrono::seconds expires,
                                         const S3PresignOptions& options) const {
  std::string query;
  auto add = [&](std::string_view name, const std::string& value) {
    if (value.empty()) return;
    if (!query.empty()) query += '&';
    query.append(name).append("=").append(uri_encode(value));
  };
  add("response-content-disposition", options.response_content_disposition);
  add("response-content-type", options.response_content_type);
  return client_.presign(request_for("GET", key, std::move(query)), expires);
}

}  // namespace docvault::aws
