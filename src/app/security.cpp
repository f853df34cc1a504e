#include "app/security.h"

#include <fstream>
#include <sstream>

#include "log/log.h"

namespace docvault::app {

std::variant<std::shared_ptr<const auth::JwtVerifier>, ConfigError> load_jwt_verifier(const Config& config) {
  if (auto missing = check_auth(config)) return *missing;
  if (!config.auth_enabled) {
    log::warn("auth", "AUTHENTICATION IS DISABLED (DOCVAULT_AUTH=disabled): every request is served as anonymous; "
                      "never run like this outside a developer machine");
    return std::shared_ptr<const auth::JwtVerifier>();
  }
  auth::ClaimRules rules;
  rules.issuer = config.jwt_issuer;
  rules.audience = config.jwt_audience;
  rules.leeway = std::chrono::seconds(config.jwt_leeway_seconds);
  try {
    if (!config.jwt_secret.empty()) {
      log::info("auth", "authentication enabled", {{"algorithms", "HS256"}});
      return std::make_shared<const auth::JwtVerifier>(auth::JwtVerifier::with_secret(config.jwt_secret, rules));
    }
    std::ifstream file(config.jwt_public_key_file, std::ios::binary);
    if (!file) {
      return ConfigError{"DOCVAULT_JWT_PUBLIC_KEY_FILE", config.jwt_public_key_file.string(), "a readable file"};
    }
    std::stringstream text;
    text << file.rdbuf();
    auto verifier =
        std::make_shared<const auth::JwtVerifier>(auth::JwtVerifier::with_public_keys(text.str(), rules));
    nlohmann::json algorithms = nlohmann::json::array();
    for (const auto& key : verifier->keys()) algorithms.push_back(auth::to_string(key.algorithm));
    log::info("auth", "authentication enabled",
              {{"key_file", config.jwt_public_key_file.string()}, {"keys", verifier->keys().size()},
               {"algorithms", algorithms}});
    return verifier;
  } catch (const auth::KeyError& e) {
    bool secret = !config.jwt_secret.empty();
    return ConfigError{secret ? "DOCVAULT_JWT_SECRET" : "DOCVAULT_JWT_PUBLIC_KEY_FILE",
                       secret ? "***" : config.jwt_public_key_file.string(), std::string("a usable key (") + e.what() + ")"};
  }
}

http::ConnectionLimits http_limits(const Config& config) {
  http::ConnectionLimits limits;
  limits.max_connections = static_cast<std::size_t>(config.http_max_connections);
  limits.worker_threads = static_cast<std::size_t>(config.http_threads);
  limits.header_timeout = std::chrono::seconds(config.http_header_timeout_seconds);
  limits.keep_alive_timeout = std::chrono::seconds(config.http_keep_alive_timeout_seconds);
  limits.keep_alive_max_requests = static_cast<std::size_t>(config.http_keep_alive_max_requests);
  limits.max_header_bytes = static_cast<std::size_t>(config.http_max_header_bytes);
  limits.read_timeout = std::chrono::seconds(config.http_read_timeout_seconds);
  limits.write_timeout = std::chrono::seconds(config.http_write_timeout_seconds);
  return limits;
}

std::shared_ptr<const aws::SnsSignatureVerifier> sns_signature_verifier(const Config& config) {
  if (!config.consumer_verify_sns_signature) return nullptr;
  auto fetcher = std::make_shared<aws::TransportCertificateFetcher>(std::make_shared<aws::CurlTransport>());
  return std::make_shared<const aws::SnsSignatureVerifier>(
      std::move(fetcher), aws::SnsSignatureOptions{config.consumer_allowed_topic_arns, 16});
}

}  // namespace docvault::app
