// Where requests for one AWS service go, and which region signs them.
//
// Resolution follows the current AWS SDKs:
//   region     AWS_REGION, else AWS_DEFAULT_REGION, else the region named by
//              the resource the call is about (a queue URL's host, an ARN);
//   endpoint   AWS_ENDPOINT_URL_<SERVICE> (AWS_ENDPOINT_URL_SQS, ..._SNS),
//              else AWS_ENDPOINT_URL, else, for a call about a queue URL, that
//              URL's scheme and authority, else https://<service>.<region>.amazonaws.com
//              (.amazonaws.com.cn in China). AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
//              turns the two overrides off.
// With SQS's JSON protocol a request goes to the service endpoint and names
// the queue in its body, so one client serves queues given by URL:
//   https://sqs.eu-west-1.amazonaws.com/123/q               -> https://sqs.eu-west-1.amazonaws.com, eu-west-1
//   http://sqs.us-east-1.localhost:4566/000000000000/name   -> http://sqs.us-east-1.localhost:4566, us-east-1
//
// An EndpointResolver reads the environment once, at construction, through
// an injectable Environment, so tests never touch the process environment.
// Immutable afterwards and safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"

namespace docvault::aws {

struct Endpoint {
  std::string url;     // scheme://host[:port], no trailing slash
  std::string region;  // the signing region
};

// The parts of an absolute http(s) URL the aws layer needs. nullopt when
// `url` is not one.
struct UrlParts {
  std::string scheme;     // "https"
  std::string authority;  // "host:port" as written, user info removed
  std::string host;       // "sqs.us-east-1.amazonaws.com"
  std::string path;       // "/123/q" ("/" when empty), query included
};
std::optional<UrlParts> parse_url(std::string_view url);

// The region named by a service host: "<service>.<region>.<anything>"
// (sqs.eu-west-1.amazonaws.com, sqs.us-east-1.localhost) or SQS's legacy
// "<region>.queue.amazonaws.com"; plain "queue.amazonaws.com" is us-east-1.
std::optional<std::string> region_from_host(std::string_view host, std::string_view service);

class EndpointResolver {
 public:
  // `service` is the lowercase endpoint prefix: "sqs", "sns".
  EndpointResolver(std::string service, const Environment& environment);

  // `resource` is what the call is about: a queue URL, an ARN, or empty (a
  // call such as CreateQueue). Throws AwsError("InvalidConfiguration") when no
  // region can be found or an override is not an http(s) URL.
  Endpoint resolve(std::string_view resource = {}) const;

  const std::string& service() const { return service_; }
  // The configured region; empty when the environment names none.
  const std::string& region() const { return region_; }

 private:
  std::string service_;
  std::string region_;
  std::string override_url_;  // empty when none
};

}  // namespace docvault::aws
