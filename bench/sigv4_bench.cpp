// SigV4 cost per request: signing an SQS ReceiveMessage (AWS JSON 1.0 POST),
// with the derived signing key taken from the cache (the steady state: one key
// per day per region and service) and derived every time (four extra HMACs).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "aws/sigv4.h"

namespace {

using docvault::aws::Credentials;
using docvault::aws::Headers;
using docvault::aws::RequestToSign;
using docvault::aws::Signer;
using docvault::aws::SigningKeyCache;
using docvault::aws::SigningOptions;

const std::string kBody =
    R"({"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/docvault-epr-events",)"
    R"("MaxNumberOfMessages":10,"WaitTimeSeconds":20,"VisibilityTimeout":60,)"
    R"("MessageAttributeNames":["All"],"MessageSystemAttributeNames":["All"]})";

const Headers& receive_message_headers() {
  static const Headers headers{
      {"Host", "sqs.eu-west-1.amazonaws.com"},
      {"Content-Type", "application/x-amz-json-1.0"},
      {"X-Amz-Target", "AmazonSQS.ReceiveMessage"},
      {"Content-Length", std::to_string(kBody.size())},
      {"User-Agent", "docvault/0.1"},
  };
  return headers;
}

const Credentials kCredentials{
    "ASIAEXAMPLEEXAMPLE00", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::string(600, 'T'), {}};

void sign_receive_message(benchmark::State& state, std::shared_ptr<SigningKeyCache> cache) {
  Signer signer("eu-west-1", "sqs", SigningOptions::for_service("sqs"), std::move(cache));
  RequestToSign request{"POST", "/", receive_message_headers(), kBody, {}};
  auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto result = signer.sign(request, kCredentials, now);
    benchmark::DoNotOptimize(result);
  }
}

void BM_SignReceiveMessage_CachedKey(benchmark::State& state) {
  static auto shared_cache = std::make_shared<SigningKeyCache>();
  sign_receive_message(state, shared_cache);
}
BENCHMARK(BM_SignReceiveMessage_CachedKey)->ThreadRange(1, 4);

void BM_SignReceiveMessage_DerivedKey(benchmark::State& state) {
  sign_receive_message(state, nullptr);
}
BENCHMARK(BM_SignReceiveMessage_DerivedKey);

}  // namespace

BENCHMARK_MAIN();
