#include "blob/filesystem_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "crypto/crypto.h"
#include "domain/uuid.h"

namespace docvault::blob {
namespace {

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail(std::string_view what) {
  throw BlobError(std::string("blob store: ") + std::string(what) + ": " + std::strerror(errno));
}

void fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) fail("fsync of a directory failed");
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

// A temporary file in <root>/tmp, unlinked unless committed. The first
// kBuffered bytes are held in memory, and the file is made only when more
// come or at commit: content already stored (a repeated small upload) then
// touches the disk only to refresh the stored blob's mtime, as put() does.
class FilesystemBlobWriter final : public BlobWriter {
 public:
  static constexpr std::size_t kBuffered = 64 * 1024;

  explicit FilesystemBlobWriter(FilesystemBlobStore& store) : store_(store) {}
  ~FilesystemBlobWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty() && !committed_) ::unlink(tmp_.c_str());
  }
  FilesystemBlobWriter(const FilesystemBlobWriter&) = delete;
  FilesystemBlobWriter& operator=(const FilesystemBlobWriter&) = delete;

  void write(std::string_view bytes) override {
    hash_.update(bytes);
    size_ += bytes.size();
    if (fd_ < 0 && buffered_.size() + bytes.size() <= kBuffered) {
      buffered_.append(bytes);
      return;
    }
    open_file();
    write_all(fd_, bytes);
  }

  BlobInfo commit() override {
    BlobInfo info{crypto::hex(hash_.finish()), size_};
    auto final_path = store_.path_of(info.sha256);
    // Present already: refresh its mtime (the sweeper's grace period counts
    // from this upload) and drop the copy, unsynced: it is never used.
    if (::utimensat(AT_FDCWD, final_path.c_str(), nullptr, 0) == 0) return info;
    open_file();
    if (::fsync(fd_) != 0) fail("fsync failed");
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::create_directories(final_path.parent_path(), ec);
    if (ec || ::rename(tmp_.c_str(), final_path.c_str()) != 0) fail("cannot move the blob into place");
    committed_ = true;
    fsync_directory(final_path.parent_path());
    return info;
  }

 private:
  // Creates the temporary file, if not yet made, with what was buffered.
  void open_file() {
    if (fd_ >= 0) return;
    tmp_ = store_.root_ / "tmp" / (uuid_v4() + ".part");
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      tmp_.clear();
      fail("cannot create a temporary file");
    }
    write_all(fd_, buffered_);
    buffered_.clear();
    buffered_.shrink_to_fit();
  }

  FilesystemBlobStore& store_;
  std::filesystem::path tmp_;  // empty until the file is made
  std::string buffered_;
  int fd_ = -1;
  crypto::Sha256Stream hash_;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

std::unique_ptr<BlobWriter> FilesystemBlobStore::writer() { return std::make_unique<FilesystemBlobWriter>(*this); }

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

FilesystemBlobStore::FilesystemBlobStore(std::filesystem::path root) : root_(std::move(root)) {
  std::error_code ec;
  std::filesystem::create_directories(root_ / "tmp", ec);
  if (ec) throw BlobError("blob store: cannot create " + root_.string() + ": " + ec.message());
}

std::filesystem::path FilesystemBlobStore::path_of(std::string_view sha256) const {
  if (!is_sha256_hex(sha256)) throw BlobError("blob store: not a SHA-256 address");
  return root_ / std::string(sha256.substr(0, 2)) / std::string(sha256);
}

BlobInfo FilesystemBlobStore::put(std::string_view content) {
  BlobInfo info{crypto::sha256_hex(content), content.size()};
  auto final_path = path_of(info.sha256);
  // Present already: refresh its mtime, so the sweeper's grace period counts
  // from this upload (a missing file falls through and is written).
  if (::utimensat(AT_FDCWD, final_path.c_str(), nullptr, 0) == 0) return info;
  std::error_code ec;

  auto tmp = root_ / "tmp" / (uuid_v4() + ".part");
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    if (fd.get() < 0) fail("cannot create a temporary file");
    std::size_t written = 0;
    while (written < content.size()) {
      ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        fail("write failed");
      }
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      int saved = errno;
      ::unlink(tmp.c_str());
      errno = saved;
      fail("fsync failed");
    }
  }
  std::filesystem::create_directories(final_path.parent_path(), ec);
  if (ec || ::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail("cannot move the blob into place");
  }
  fsync_directory(final_path.parent_path());
  return info;
}

std::optional<std::uint64_t> FilesystemBlobStore::size(std::string_view sha256) {
  std::error_code ec;
  auto bytes = std::filesystem::file_size(path_of(sha256), ec);
  if (ec) return std::nullopt;
  return bytes;
}

void FilesystemBlobStore::read(std::string_view sha256, std::uint64_t offset, std::uint64_t length,
                               const std::function<bool(std::string_view chunk)>& sink) {
  auto path = path_of(sha256);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail("cannot open the blob");
  std::vector<char> buffer(64 * 1024);
  while (length > 0) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, buffer.size()));
    ssize_t n = ::pread(fd.get(), buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read failed");
    }
    if (n == 0) throw BlobError("blob store: blob is shorter than expected");
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
    if (!sink(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) return;
  }
}

namespace {

std::chrono::system_clock::time_point modified_time(const struct stat& info) {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(info.st_mtim.tv_sec) + std::chrono::nanoseconds(info.st_mtim.tv_nsec)));
}

}  // namespace

std::optional<BlobStat> FilesystemBlobStore::stat(std::string_view sha256) {
  struct stat info {};
  if (::stat(path_of(sha256).c_str(), &info) != 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot stat the blob");
  }
  return BlobStat{std::string(sha256), static_cast<std::uint64_t>(info.st_size), modified_time(info)};
}

void FilesystemBlobStore::list(const std::function<void(const BlobStat&)>& visit) {
  // <root>/<aa>/<sha256>; tmp/ and anything else not named so is skipped.
  std::error_code ec;
  for (std::filesystem::directory_iterator shard(root_, ec), end; !ec && shard != end; shard.increment(ec)) {
    auto shard_name = shard->path().filename().string();
    if (shard_name.size() != 2 || !shard->is_directory()) continue;
    std::error_code inner;
    for (std::filesystem::directory_iterator entry(shard->path(), inner); !inner && entry != end;
         entry.increment(inner)) {
      auto name = entry->path().filename().string();
      if (!is_sha256_hex(name) || !name.starts_with(shard_name)) continue;
      struct stat info {};
      if (::stat(entry->path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
      visit(BlobStat{name, static_cast<std::uint64_t>(info.st_size), modified_time(info)});
    }
    if (inner) throw BlobError("blob store: cannot list " + shard->path().string() + ": " + inner.message());
  }
  if (ec) throw BlobError("blob store: cannot list " + root_.string() + ": " + ec.message());
}

void FilesystemBlobStore::remove(std::string_view sha256) {
  auto path = path_of(sha256);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    fail("cannot delete the blob");
  }
  fsync_directory(path.parent_path());
}

std::optional<std::string> FilesystemBlobStore::download_url(std::string_view, const DownloadUrlOptions&) {
  return std::nullopt;
}

}  // namespace docvault::blob
