#include "aws/sigv4.h"

#include <algorithm>
#include <array>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace docvault::aws {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::chrono::seconds kMaxPresignExpiry = std::chrono::hours(24 * 7);

// RFC 3986's unreserved characters, as a table: the encoder's inner loop.
constexpr std::array<bool, 256> kUnreserved = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.' || c == '~';
  }
  return table;
}();

bool is_unreserved(unsigned char c) { return kUnreserved[c]; }

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return c - 'a' + 10;
}

void append_escaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char escaped[3] = {'%', kHex[c >> 4], kHex[c & 0x0F]};
  out.append(escaped, 3);
}

void append_encoded(std::string& out, std::string_view text, bool keep_slash) {
  std::size_t i = 0;
  while (i < text.size()) {
    // Runs of characters that stay as they are go in at once.
    std::size_t run = i;
    while (run < text.size() && (is_unreserved(static_cast<unsigned char>(text[run])) ||
                                 (keep_slash && text[run] == '/'))) {
      ++run;
    }
    out.append(text.data() + i, run - i);
    if (run == text.size()) break;
    append_escaped(out, static_cast<unsigned char>(text[run]));
    i = run + 1;
  }
}

// S3 signs the path as sent: existing escapes stay, anything unsafe left
// unescaped by the caller is escaped so the canonical form is still valid.
void append_encoded_keeping_escapes(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '%' && i + 2 < text.size() && is_hex_digit(text[i + 1]) && is_hex_digit(text[i + 2])) {
      out.append(text.substr(i, 3));
      i += 2;
    } else if (is_unreserved(c)) {
      out += text[i];
    } else {
      append_escaped(out, c);
    }
  }
}

// Invalid escapes stay literal rather than failing: the signature must cover
// whatever is sent, and the service decodes the same way.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && is_hex_digit(text[i + 1]) &&
        is_hex_digit(text[i + 2])) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

void append_segment(std::string& out, std::string_view segment, const SigningOptions& options) {
  if (options.double_encode_path) {
    append_encoded(out, segment, false);
  } else {
    append_encoded_keeping_escapes(out, segment);
  }
}

std::string canonical_path(std::string_view path, const SigningOptions& options) {
  if (path.empty()) return "/";
  std::string out;
  out.reserve(path.size() + 16);
  if (!options.normalize_path) {
    bool first = true;
    for (auto segment : split(path, '/')) {
      if (!first) out += '/';
      first = false;
      append_segment(out, segment, options);
    }
    return out;
  }
  // RFC 3986 remove_dot_segments, plus empty segments dropped: "//a//" is "/a/".
  std::vector<std::string_view> kept;
  auto segments = split(path, '/');
  for (auto segment : segments) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  const auto& last = segments.back();
  bool trailing_slash = last.empty() || last == "." || last == "..";
  out += '/';
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    append_segment(out, kept[i], options);
  }
  if (trailing_slash && !kept.empty()) out += '/';
  return out;
}

struct QueryParameter {
  std::string key;
  std::string value;
};

void add_raw_query(std::vector<QueryParameter>& parameters, std::string_view query) {
  if (query.empty()) return;
  for (auto pair : split(query, '&')) {
    if (pair.empty()) continue;
    auto equals = pair.find('=');
    auto key = pair.substr(0, equals);
    auto value = equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
    parameters.push_back({uri_encode(percent_decode(key)), uri_encode(percent_decode(value))});
  }
}

std::string canonical_query(std::vector<QueryParameter>& parameters) {
  std::sort(parameters.begin(), parameters.end(), [](const auto& a, const auto& b) {
    return a.key != b.key ? a.key < b.key : a.value < b.value;
  });
  std::string out;
  for (const auto& parameter : parameters) {
    if (!out.empty()) out += '&';
    out += parameter.key;
    out += '=';
    out += parameter.value;
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// Trims, and folds every whitespace run (obsolete line folding included) to one space.
std::string normalize_header_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool signer_owned_or_unsigned(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 8> kSkipped = {
      "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
      "connection",    "expect",     "user-agent",           "x-amzn-trace-id"};
  return std::find(kSkipped.begin(), kSkipped.end(), lower_name) != kSkipped.end();
}

struct CanonicalHeaders {
  std::string canonical;     // "name:value\n" lines
  std::string signed_names;  // "a;b;c"
};

CanonicalHeaders canonical_headers(std::span<const Header> headers,
                                   std::vector<std::pair<std::string, std::string>> added) {
  struct Entry {
    std::string name;
    std::string value;
  };
  std::vector<Entry> entries;
  entries.reserve(headers.size() + added.size());
  bool has_host = false;
  for (const auto& header : headers) {
    auto name = lowercase(normalize_header_value(header.name));
    if (signer_owned_or_unsigned(name)) continue;
    if (name == "host") has_host = true;
    entries.push_back({std::move(name), normalize_header_value(header.value)});
  }
  if (!has_host) throw std::invalid_argument("SigV4: the request to sign has no Host header");
  for (auto& [name, value] : added) entries.push_back({std::move(name), std::move(value)});
  // Stable: repeated headers keep their order when joined.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.name < b.name; });

  CanonicalHeaders out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    bool repeat = i > 0 && entries[i].name == entries[i - 1].name;
    if (repeat) {
      out.canonical.pop_back();  // the previous line's '\n'
      out.canonical += ',';
    } else {
      if (!out.signed_names.empty()) out.signed_names += ';';
      out.signed_names += entries[i].name;
      out.canonical += entries[i].name;
      out.canonical += ':';
    }
    out.canonical += entries[i].value;
    out.canonical += '\n';
  }
  return out;
}

struct AmzTime {
  std::string date;      // 20150830
  std::string datetime;  // 20150830T123600Z
};

AmzTime format_time(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto seconds_since_epoch = floor<seconds>(time);
  auto day = floor<days>(seconds_since_epoch);
  year_month_day ymd{day};
  hh_mm_ss hms{seconds_since_epoch - day};
  auto digits = [](std::string& out, long value, int width) {
    char buffer[8];
    for (int i = width - 1; i >= 0; --i) {
      buffer[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    out.append(buffer, static_cast<std::size_t>(width));
  };
  AmzTime out;
  digits(out.date, static_cast<int>(ymd.year()), 4);
  digits(out.date, static_cast<unsigned>(ymd.month()), 2);
  digits(out.date, static_cast<unsigned>(ymd.day()), 2);
  out.datetime = out.date + "T";
  digits(out.datetime, hms.hours().count(), 2);
  digits(out.datetime, hms.minutes().count(), 2);
  digits(out.datetime, hms.seconds().count(), 2);
  out.datetime += 'Z';
  return out;
}

}  // namespace

SigningOptions SigningOptions::for_service(std::string_view service) {
  SigningOptions options;
  if (service == "s3") {
    options.normalize_path = false;
    options.double_encode_path = false;
    options.add_content_sha256_header = true;
  }
  return options;
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  append_encoded(out, text, keep_slash);
  return out;
}

void append_uri_encoded(std::string& out, std::string_view text) { append_encoded(out, text, false); }

crypto::Sha256Digest derive_signing_key(std::string_view secret, std::string_view date,
                                        std::string_view region, std::string_view service) {
  std::string seed;
  seed.reserve(4 + secret.size());
  seed += "AWS4";
  seed += secret;
  auto key = crypto::hmac_sha256(std::string_view(seed), date);
  key = crypto::hmac_sha256(key, region);
  key = crypto::hmac_sha256(key, service);
  return crypto::hmac_sha256(key, "aws4_request");
}

SigningKeyCache::SigningKeyCache(std::size_t max_entries) : max_entries_(max_entries) {}

crypto::Sha256Digest SigningKeyCache::get(std::string_view secret, std::string_view date,
                                          std::string_view region, std::string_view service) {
  std::string key;
  key.reserve(secret.size() + date.size() + region.size() + service.size() + 3);
  // NUL cannot occur in any of the parts, so the joined key is unambiguous.
  key.append(secret)
      .append(1, '\0')
      .append(date)
      .append(1, '\0')
      .append(region)
      .append(1, '\0')
      .append(service);
  {
    runtime::ReaderLock lock(mutex_);
    if (auto found = keys_.find(key); found != keys_.end()) return found->second;
  }
  auto derived = derive_signing_key(secret, date, region, service);
  runtime::WriterLock lock(mutex_);
  // Keys change daily; dropping everything now and then is simpler than LRU
  // and bounds the secrets we keep derived material for.
  if (keys_.size() >= max_entries_) keys_.clear();
  keys_.emplace(std::move(key), derived);
  return derived;
}

std::size_t SigningKeyCache::size() const {
  runtime::ReaderLock lock(mutex_);
  return keys_.size();
}

Signer::Signer(std::string region, std::string service, SigningOptions options,
               std::shared_ptr<SigningKeyCache> cache)
    : region_(std::move(region)),
      service_(std::move(service)),
      options_(options),
      cache_(std::move(cache)) {}

SigningResult Signer::sign(const RequestToSign& request, const Credentials& credentials,
                           std::chrono::system_clock::time_point time) const {
  return sign_impl(request, credentials, time, false);
}

SigningResult Signer::presign(const RequestToSign& request, const Credentials& credentials,
                              std::chrono::system_clock::time_point time) const {
  if (options_.expires < std::chrono::seconds(1) || options_.expires > kMaxPresignExpiry) {
    throw std::invalid_argument("SigV4: presign expiry must be between 1 second and 7 days");
  }
  return sign_impl(request, credentials, time, true);
}

SigningResult Signer::sign_impl(const RequestToSign& request, const Credentials& credentials,
                                std::chrono::system_clock::time_point time, bool presign) const {
  auto amz_time = format_time(time);
  std::string scope;
  scope.reserve(amz_time.date.size() + region_.size() + service_.size() + 16);
  scope.append(amz_time.date)
      .append("/")
      .append(region_)
      .append("/")
      .append(service_)
      .append("/aws4_request");

  std::string payload_hash = request.payload_hash.empty() ? crypto::sha256_hex(request.body)
                                                          : std::string(request.payload_hash);
  bool sign_token = !credentials.session_token.empty() && !options_.omit_session_token;

  auto question = request.target.find('?');
  auto path = request.target.substr(0, question);
  auto query =
      question == std::string_view::npos ? std::string_view{} : request.target.substr(question + 1);
  if (auto fragment = query.find('#'); fragment != std::string_view::npos) {
    query = query.substr(0, fragment);
  }

  std::vector<std::pair<std::string, std::string>> added_headers;
  if (!presign) {
    added_headers.emplace_back("x-amz-date", amz_time.datetime);
    if (sign_token) added_headers.emplace_back("x-amz-security-token", credentials.session_token);
    if (options_.add_content_sha256_header) {
      added_headers.emplace_back("x-amz-content-sha256", payload_hash);
    }
  }
  auto headers = canonical_headers(request.headers, std::move(added_headers));

  std::vector<QueryParameter> parameters;
  add_raw_query(parameters, query);
  std::string credential = credentials.access_key_id + "/" + scope;
  std::string expires = std::to_string(options_.expires.count());
  if (presign) {
    parameters.push_back({"X-Amz-Algorithm", std::string(kAlgorithm)});
    parameters.push_back({"X-Amz-Credential", uri_encode(credential)});
    parameters.push_back({"X-Amz-Date", amz_time.datetime});
    parameters.push_back({"X-Amz-Expires", expires});
    parameters.push_back({"X-Amz-SignedHeaders", uri_encode(headers.signed_names)});
    if (sign_token) {
      parameters.push_back({"X-Amz-Security-Token", uri_encode(credentials.session_token)});
    }
  }

  SigningResult result;
  auto& canonical = result.canonical_request;
  canonical.reserve(256 + request.target.size() + headers.canonical.size());
  canonical.append(request.method).append("\n");
  canonical.append(canonical_path(path, options_)).append("\n");
  canonical.append(canonical_query(parameters)).append("\n");
  canonical.append(headers.canonical).append("\n");
  canonical.append(headers.signed_names).append("\n");
  canonical.append(payload_hash);

  auto& to_sign = result.string_to_sign;
  to_sign.append(kAlgorithm).append("\n");
  to_sign.append(amz_time.datetime).append("\n");
  to_sign.append(scope).append("\n");
  to_sign.append(crypto::sha256_hex(canonical));

  auto key =
      cache_ ? cache_->get(credentials.secret_access_key, amz_time.date, region_, service_)
             : derive_signing_key(credentials.secret_access_key, amz_time.date, region_, service_);
  result.signature = crypto::hex(crypto::hmac_sha256(key, to_sign));

  if (presign) {
    auto& out = result.query_to_append;
    out.append("X-Amz-Algorithm=").append(kAlgorithm);
    out.append("&X-Amz-Credential=").append(uri_encode(credential));
    out.append("&X-Amz-Date=").append(amz_time.datetime);
    out.append("&X-Amz-SignedHeaders=").append(uri_encode(headers.signed_names));
    out.append("&X-Amz-Expires=").append(expires);
    if (!credentials.session_token.empty()) {
      out.append("&X-Amz-Security-Token=").append(uri_encode(credentials.session_token));
    }
    out.append("&X-Amz-Signature=").append(result.signature);
  } else {
    auto& add = result.headers_to_add;
    add.push_back({"X-Amz-Date", amz_time.datetime});
    if (!credentials.session_token.empty()) {
      add.push_back({"X-Amz-Security-Token", credentials.session_token});
    }
    if (options_.add_content_sha256_header) add.push_back({"x-amz-content-sha256", payload_hash});
    std::string authorization;
    authorization.reserve(160 + headers.signed_names.size());
    authorization.append(kAlgorithm)
        .append(" Credential=")
        .append(credential)
        .append(", SignedHeaders=")
        .append(headers.signed_names)
        .append(", Signature=")
        .append(result.signature);
    add.push_back({"Authorization", std::move(authorization)});
  }
  return result;
}

}  // namespace docvault::aws
