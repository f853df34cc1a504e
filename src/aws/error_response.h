// Reading an AWS error answer, whatever shape it comes in.
//
// Services answer errors in several shapes, and proxies, load balancers and
// emulators add their own: JSON 1.0 (`__type`, `message` or `Message`; SQS adds
// the query-compatible code in an `x-amzn-query-error` header, which not every
// implementation sends), XML `<Error>` (S3), `<ErrorResponse><Error>` (SNS and
// the query protocol), `<ErrorResponse><Errors><Error>` and
// `<Response><Errors><Error>` (older query services), and HTML or empty bodies
// from whatever stood in between. `error_from_response` reads all of them into
// one AwsError, so a log line always says what came back: the code and
// message when the body has them, otherwise the body itself, quoted (at most
// kQuotedBodyBytes, non-printable bytes escaped) or "empty body".
//
// Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <string_view>

#include "aws/error.h"
#include "aws/http_transport.h"

namespace docvault::aws {

inline constexpr std::size_t kQuotedBodyBytes = 200;

// `fallback_code` names the error when the answer has no code of its own
// (SQS and SNS say "UnknownError"; S3 names the HTTP status).
AwsError error_from_response(const HttpResponse& response, std::string_view fallback_code);

}  // namespace docvault::aws
