#include "aws/endpoint.h"

#include <cctype>
#include <utility>

#include "aws/error.h"

namespace docvault::aws {

namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string uppercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// "us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1": letters in two
// or more dash-separated words, then a number.
bool looks_like_region(std::string_view label) {
  auto last_dash = label.rfind('-');
  if (last_dash == std::string_view::npos || last_dash + 1 == label.size()) return false;
  for (char c : label.substr(last_dash + 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  auto words = label.substr(0, last_dash);
  if (words.find('-') == std::string_view::npos) return false;
  bool previous_dash = true;
  for (char c : words) {
    if (c == '-') {
      if (previous_dash) return false;
      previous_dash = true;
    } else if (c >= 'a' && c <= 'z') {
      previous_dash = false;
    } else {
      return false;
    }
  }
  return !previous_dash;
}

// arn:partition:service:region:account:resource
std::optional<std::string> region_from_arn(std::string_view arn) {
  std::size_t start = 0;
  for (int field = 0; field < 3; ++field) {
    start = arn.find(':', start);
    if (start == std::string_view::npos) return std::nullopt;
    ++start;
  }
  auto end = arn.find(':', start);
  if (end == std::string_view::npos || end == start) return std::nullopt;
  return std::string(arn.substr(start, end - start));
}

std::string without_trailing_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::optional<UrlParts> parse_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  UrlParts parts;
  parts.scheme = lowercase(url.substr(0, scheme_end));
  if (parts.scheme != "http" && parts.scheme != "https") return std::nullopt;
  auto rest = url.substr(scheme_end + 3);
  auto path_start = rest.find_first_of("/?#");
  auto authority = rest.substr(0, path_start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty()) return std::nullopt;
  parts.authority = std::string(authority);
  std::string_view host = authority;
  if (host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  parts.host = lowercase(host);
  if (path_start == std::string_view::npos) {
    parts.path = "/";
  } else {
    auto path = rest.substr(path_start);
    path = path.substr(0, path.find('#'));
    parts.path = path.starts_with('/') ? std::string(path) : "/" + std::string(path);
  }
  return parts;
}

std::optional<std::string> region_from_host(std::string_view host, std::string_view service) {
  if (host == "queue.amazonaws.com") return "us-east-1";
  auto first_dot = host.find('.');
  if (first_dot == std::string_view::npos) return std::nullopt;
  auto first = host.substr(0, first_dot);
  auto rest = host.substr(first_dot + 1);
  auto second = rest.substr(0, rest.find('.'));
  if (first == service && looks_like_region(second)) return std::string(second);
  if (second == "queue" && looks_like_region(first)) return std::string(first);
  return std::nullopt;
}

EndpointResolver::EndpointResolver(std::string service, const Environment& environment)
    : service_(std::move(service)) {
  region_ = environment("AWS_REGION").value_or(environment("AWS_DEFAULT_REGION").value_or(""));
  auto ignore = environment("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  if (ignore && lowercase(*ignore) == "true") return;
  auto specific = environment("AWS_ENDPOINT_URL_" + uppercase(service_));
  auto general = environment("AWS_ENDPOINT_URL");
  std::string chosen = specific ? *specific : general.value_or("");
  if (chosen.empty()) return;
  auto parts = parse_url(chosen);
  if (!parts) {
    throw AwsError(0, "InvalidConfiguration",
                   "the endpoint override for " + service_ + " is not an http(s) URL: " + chosen);
  }
  // The path of an override is kept: some gateways serve AWS under a prefix.
  override_url_ = without_trailing_slash(parts->scheme + "://" + parts->authority +
                                         (parts->path == "/" ? "" : parts->path));
}

Endpoint EndpointResolver::resolve(std::string_view resource) const {
  std::optional<UrlParts> resource_url = resource.starts_with("arn:") ? std::nullopt : parse_url(resource);
  std::string region = region_;
  if (region.empty() && !resource.empty()) {
    auto found = resource.starts_with("arn:")
                     ? region_from_arn(resource)
                     : (resource_url ? region_from_host(resource_url->host, service_) : std::nullopt);
    region = found.value_or("");
  }
  if (region.empty()) {
    throw AwsError(0, "InvalidConfiguration",
                   "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION" +
                       (resource.empty() ? std::string() : " (none in " + std::string(resource) + ")"));
  }
  if (!override_url_.empty()) return {override_url_, region};
  if (resource_url) return {resource_url->scheme + "://" + resource_url->authority, region};
  std::string suffix = region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  return {"https://" + service_ + "." + region + suffix, region};
}

}  // namespace docvault::aws
