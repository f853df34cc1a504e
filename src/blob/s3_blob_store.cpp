#include "blob/s3_blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
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
    put_multipart(key, content.size(), [content](std::uint64_t offset, std::size_t length, std::string& buffer) {
      buffer.assign(content.substr(static_cast<std::size_t>(offset), length));
    });
    return info;
  }
  try {
    client_->put_object(key, content, info.sha256, {.encryption = options_.encryption});
  } catch (const aws::AwsError& error) {
    fail("PutObject", error);
  }
  return info;
}

void S3BlobStore::put_multipart(const std::string& key, std::uint64_t size, const PartReader& read_part) {
  std::string upload_id;
  try {
    upload_id = client_->create_multipart_upload(key, {.encryption = options_.encryption});
  } catch (const aws::AwsError& error) {
    fail("CreateMultipartUpload", error);
  }
  std::string_view step = "UploadPart";
  try {
    std::vector<aws::S3CompletedPart> parts;
    std::string part;
    for (std::uint64_t offset = 0; offset < size; offset += options_.part_size) {
      read_part(offset, static_cast<std::size_t>(std::min<std::uint64_t>(options_.part_size, size - offset)), part);
      int number = static_cast<int>(parts.size()) + 1;
      parts.push_back({number, client_->upload_part(key, upload_id, number, part, crypto::sha256_hex(part))});
    }
    step = "CompleteMultipartUpload";
    client_->complete_multipart_upload(key, upload_id, parts);
  } catch (const std::exception& error) {
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

// The content in an anonymous temporary file until commit() uploads it.
class S3BlobWriter final : public BlobWriter {
 public:
  explicit S3BlobWriter(S3BlobStore& store) : store_(store) {
    const char* dir = std::getenv("TMPDIR");
    fd_ = ::open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) throw BlobError(std::string("blob store: cannot create a temporary file: ") + std::strerror(errno));
  }
  ~S3BlobWriter() override { ::close(fd_); }
  S3BlobWriter(const S3BlobWriter&) = delete;
  S3BlobWriter& operator=(const S3BlobWriter&) = delete;

  void write(std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw BlobError(std::string("blob store: temporary file write failed: ") + std::strerror(errno));
      hash_.update(bytes.substr(0, static_cast<std::size_t>(n)));
      size_ += static_cast<std::uint64_t>(n);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  BlobInfo commit() override {
    BlobInfo info{crypto::hex(hash_.finish()), size_};
    auto key = store_.key_of(info.sha256);
    auto read_part = [this](std::uint64_t offset, std::size_t length, std::string& buffer) {
      buffer.resize(length);
      std::size_t got = 0;
      while (got < length) {
        ssize_t n = ::pread(fd_, buffer.data() + got, length - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw BlobError("blob store: temporary file read failed");
        got += static_cast<std::size_t>(n);
      }
    };
    if (size_ > store_.options_.multipart_threshold) {
      store_.put_multipart(key, size_, read_part);
      return info;
    }
    std::string content;
    read_part(0, static_cast<std::size_t>(size_), content);
    try {
      store_.client_->put_object(key, content, info.sha256, {.encryption = store_.options_.encryption});
    } catch (const aws::AwsError& error) {
      fail("PutObject", error);
    }
    return info;
  }

 private:
  S3BlobStore& store_;
  int fd_ = -1;
  crypto::Sha256Stream hash_;
  std::uint64_t size_ = 0;
};

std::unique_ptr<BlobWriter> S3BlobStore::writer() { return std::make_unique<S3BlobWriter>(*this); }

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
