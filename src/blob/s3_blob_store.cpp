#include "blob/s3_blob_store.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "crypto/crypto.h"

namespace docvault::blob {
namespace {

[[noreturn]] void fail(std::string_view call, const aws::AwsError& error) {
  throw BlobError("blob store: S3 " + std::string(call) + " failed: " + error.what());
}

}  // namespace

S3BlobStore::S3BlobStore(std::shared_ptr<const aws::S3Client> client, S3BlobStoreOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (!client_) throw BlobError("blob store: no S3 client");
  // S3 refuses parts under 5 MiB (but the last) and more than 10,000 parts.
  options_.part_size = std::max<std::size_t>(options_.part_size, 5ull * 1024 * 1024);
  options_.multipart_threshold = std::max(options_.multipart_threshold, options_.part_size);
}

std::string S3BlobStore::key_of(std::string_view sha256) const {
  if (!is_sha256_hex(sha256)) throw BlobError("blob store: not a SHA-256 address");
  return options_.prefix + std::string(sha256);
}

BlobInfo S3BlobStore::put(std::string_view content) {
  BlobInfo info{crypto::sha256_hex(content), content.size()};
  auto key = key_of(info.sha256);
  // Always written, even when present: the write refreshes LastModified,
  // which is what keeps the sweeper away until the row commits.
  if (content.size() > options_.multipart_threshold) {
    put_multipart(key, content);
    return info;
  }
  try {
    client_->put_object(key, content, info.sha256, {.encryption = options_.encryption});
  } catch (const aws::AwsError& error) {
    fail("PutObject", error);
  }
  return info;
}

void S3BlobStore::put_multipart(const std::string& key, std::string_view content) {
  std::string upload_id;
  try {
    upload_id = client_->create_multipart_upload(key, {.encryption = options_.encryption});
  } catch (const aws::AwsError& error) {
    fail("CreateMultipartUpload", error);
  }
  std::string_view step = "UploadPart";
  try {
    std::vector<aws::S3CompletedPart> parts;
    for (std::size_t offset = 0; offset < content.size(); offset += options_.part_size) {
      auto part = content.substr(offset, options_.part_size);
      int number = static_cast<int>(parts.size()) + 1;
      parts.push_back({number, client_->upload_part(key, upload_id, number, part, crypto::sha256_hex(part))});
    }
    step = "CompleteMultipartUpload";
    client_->complete_multipart_upload(key, upload_id, parts);
  } catch (const aws::AwsError& error) {
    std::string abort_failure;
    try {
      client_->abort_multipart_upload(key, upload_id);
    } catch (const aws::AwsError& abort_error) {
      // Left for the bucket's AbortIncompleteMultipartUpload rule; say so.
      abort_failure = std::string("; AbortMultipartUpload of ") + upload_id + " failed too: " + abort_error.what();
    }
    throw BlobError("blob store: S3 " + std::string(step) + " failed: " + error.what() + abort_failure);
  }
}

std::optional<std::uint64_t> S3BlobStore::size(std::string_view sha256) {
  auto found = stat(sha256);
  if (!found) return std::nullopt;
  return found->size;
}

std::optional<BlobStat> S3BlobStore::stat(std::string_view sha256) {
  try {
    auto info = client_->head_object(key_of(sha256));
    if (!info) return std::nullopt;
    return BlobStat{std::string(sha256), info->size, info->last_modified};
  } catch (const aws::AwsError& error) {
    fail("HeadObject", error);
  }
}

void S3BlobStore::read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                       const std::function<bool(std::string_view chunk)>& sink) {
  if (length == 0) return;
  auto key = key_of(sha256);
  bool stopped = false;
  std::uint64_t delivered = 0;
  try {
    delivered = client_->get_object(key, offset, length, [&](std::string_view chunk) {
      // Never more than asked for, whatever the server sends.
      if (chunk.size() > length - delivered) chunk = chunk.substr(0, static_cast<std::size_t>(length - delivered));
      delivered += chunk.size();
      if (!sink(chunk)) stopped = true;
      return !stopped;
    });
  } catch (const aws::AwsError& error) {
    if (error.http_status() == 404) throw BlobError("blob store: blob " + std::string(sha256) + " is absent");
    if (error.http_status() == 416) throw BlobError("blob store: blob is shorter than expected");
    fail("GetObject", error);
  }
  (void)delivered;
  if (!stopped && delivered < length) throw BlobError("blob store: blob is shorter than expected");
}

void S3BlobStore::list(const std::function<void(const BlobStat&)>& visit) {
  std::string token;
  do {
    aws::S3ListPage page;
    try {
      page = client_->list_objects_v2(options_.prefix, token);
    } catch (const aws::AwsError& error) {
      fail("ListObjectsV2", error);
    }
    for (const auto& object : page.objects) {
      std::string_view name(object.key);
      if (!name.starts_with(options_.prefix)) continue;
      name.remove_prefix(options_.prefix.size());
      if (!is_sha256_hex(name)) continue;
      visit(BlobStat{std::string(name), object.size, object.last_modified});
    }
    token = std::move(page.next_continuation_token);
  } while (!token.empty());
}

void S3BlobStore::remove(std::string_view sha256) {
  try {
    client_->delete_object(key_of(sha256));
  } catch (const aws::AwsError& error) {
    fail("DeleteObject", error);
  }
}

std::optional<std::string> S3BlobStore::download_url(std::string_view sha256, const DownloadUrlOptions& options) {
  try {
    return client_->presign_get_object(key_of(sha256), options.expires,
                                       {options.content_type, options.content_disposition});
  } catch (const aws::AwsError& error) {
    fail("presign", error);
  }
}

}  // namespace docvault::blob
