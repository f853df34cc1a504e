// The security parts of the wiring, built from the Config: the JWT verifier
// of the HTTP API, the HTTP connection limits, and the SNS signature
// verifier of the consumer.
//
// Called from main's thread at start-up; what they return is immutable and
// shared with the workers.
#pragma once

#include <memory>
#include <variant>

#include "app/config.h"
#include "auth/jwt_verifier.h"
#include "aws/sns_signature.h"
#include "http/server.h"

namespace docvault::app {

// The verifier for DOCVAULT_JWT_SECRET or DOCVAULT_JWT_PUBLIC_KEY_FILE;
// nullptr when DOCVAULT_AUTH is disabled (after a loud warning); a
// ConfigError naming the variable when no key is configured or the key file
// cannot be read or used.
std::variant<std::shared_ptr<const auth::JwtVerifier>, ConfigError> load_jwt_verifier(const Config& config);

http::ConnectionLimits http_limits(const Config& config);

// nullptr unless DOCUMENT_CONSUMER_VERIFY_SNS_SIGNATURE is true.
std::shared_ptr<const aws::SnsSignatureVerifier> sns_signature_verifier(const Config& config);

}  // namespace docvault::app
