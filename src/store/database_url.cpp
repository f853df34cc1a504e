#include "store/database_url.h"

#include <algorithm>

namespace docvault::store {
namespace {

// postgresql://user:password@host/db?password=…: the userinfo's password,
// then every password parameter of the query.
void find_uri_passwords(std::string_view url, std::size_t scheme_end, std::vector<TextSpan>& spans) {
  const std::size_t authority_begin = scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  const auto at = url.rfind('@', authority_end);
  if (at != std::string_view::npos && at >= authority_begin) {
    const auto colon = url.find(':', authority_begin);
    if (colon != std::string_view::npos && colon < at) spans.push_back({colon + 1, at});
  }
  // ?password=... among the query parameters.
  const auto query = url.find('?', authority_begin);
  if (query == std::string_view::npos) return;
  std::size_t pos = query + 1;
  while (pos < url.size()) {
    std::size_t end = url.find('&', pos);
    if (end == std::string_view::npos) end = url.size();
    const auto param = url.substr(pos, end - pos);
    if (param.starts_with("password=")) spans.push_back({pos + 9, end});
    pos = end + 1;
  }
}

// keyword = value pairs; a value is bare or single-quoted with \ escapes.
void find_keyword_passwords(std::string_view url, std::vector<TextSpan>& spans) {
  std::size_t pos = 0;
  while ((pos = url.find("password", pos)) != std::string_view::npos) {
    std::size_t i = pos + 8;
    const bool starts_word = pos == 0 || url[pos - 1] == ' ' || url[pos - 1] == '\t';
    while (i < url.size() && (url[i] == ' ' || url[i] == '\t')) ++i;
    if (!starts_word || i >= url.size() || url[i] != '=') {
      pos += 8;
      continue;
    }
    ++i;
    while (i < url.size() && (url[i] == ' ' || url[i] == '\t')) ++i;
    const std::size_t begin = i;
    if (i < url.size() && url[i] == '\'') {
      ++i;
      while (i < url.size() && url[i] != '\'') i += url[i] == '\\' ? 2 : 1;
      i = std::min(i + 1, url.size());
    } else {
      while (i < url.size() && url[i] != ' ' && url[i] != '\t') ++i;
    }
    spans.push_back({begin, i});
    pos = i;
  }
}

std::string replace_spans(std::string_view text, std::vector<TextSpan> spans) {
  std::sort(spans.begin(), spans.end());
  std::string out;
  std::size_t pos = 0;
  for (const auto& [begin, end] : spans) {
    if (begin < pos) continue;
    out.append(text.substr(pos, begin - pos));
    out.append("***");
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace

DatabaseUrl parse_database_url(std::string_view url) {
  DatabaseUrl parsed;
  const auto scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) {
    parsed.form = DatabaseUrl::Form::uri;
    find_uri_passwords(url, scheme_end, parsed.passwords);
  } else {
    find_keyword_passwords(url, parsed.passwords);
  }
  return parsed;
}

std::string redact_database_url(std::string_view url) {
  return replace_spans(url, parse_database_url(url).passwords);
}

// The driver's text quotes the URL whole, or parts of it: the whole URL is
// replaced first, then each password with what frames it there (":pw@",
// "password=pw").
std::string redact_database_error(std::string_view message, std::string_view url) {
  std::string reason(message.substr(0, message.find('\n')));
  const auto passwords = parse_database_url(url).passwords;
  if (!url.empty()) {
    const auto redacted = replace_spans(url, passwords);
    for (auto at = reason.find(url); at != std::string::npos; at = reason.find(url, at + redacted.size())) {
      reason.replace(at, url.size(), redacted);
    }
  }
  for (const auto& [begin, end] : passwords) {
    if (begin == end || begin == 0) continue;
    // The byte before (':' of the userinfo, '=' of a parameter) and after ('@', '&', ' ' or the end).
    const auto lead = url.substr(begin - 1, 1);
    const auto tail = end < url.size() ? url.substr(end, 1) : std::string_view();
    const std::string framed = std::string(lead) + std::string(url.substr(begin, end - begin)) + std::string(tail);
    const std::string masked = std::string(lead) + "***" + std::string(tail);
    for (auto at = reason.find(framed); at != std::string::npos; at = reason.find(framed, at + masked.size())) {
      reason.replace(at, framed.size(), masked);
    }
  }
  return reason;
}

}  // namespace docvault::store
