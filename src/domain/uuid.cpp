#include "domain/uuid.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

#include "crypto/crypto.h"

namespace docvault {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

std::string format(const Bytes& b) {
  std::string hex = crypto::hex(b);
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20, 12);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Bytes> parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Bytes out{};
  std::size_t nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    int v = hex_value(text[i]);
    if (v < 0) return std::nullopt;
    out[nibble / 2] = static_cast<std::uint8_t>(out[nibble / 2] | (nibble % 2 == 0 ? v << 4 : v));
    ++nibble;
  }
  return out;
}

void set_version(Bytes& b, std::uint8_t version) {
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
}

}  // namespace

std::string uuid_v4() {
  Bytes b{};
  crypto::random_bytes(b);
  set_version(b, 4);
  return format(b);
}

std::string uuid_v5(std::string_view namespace_uuid, std::string_view name) {
  auto ns = parse(namespace_uuid);
  if (!ns) throw std::invalid_argument("uuid_v5: namespace is not a UUID");
  std::string input(reinterpret_cast<const char*>(ns->data()), ns->size());
  input.append(name);
  auto digest = crypto::sha1(input);
  Bytes b{};
  std::copy_n(digest.begin(), b.size(), b.begin());
  set_version(b, 5);
  return format(b);
}

std::optional<std::string> canonical_uuid(std::string_view text) {
  auto bytes = parse(text);
  if (!bytes) return std::nullopt;
  return format(*bytes);
}

}  // namespace docvault
