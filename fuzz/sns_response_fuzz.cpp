// Fuzzes what docvault reads from SNS's query-protocol XML answers: a
// PublishBatch response (per entry) and an ErrorResponse. The first byte
// picks the parser and how many entries were sent; the rest is the body.
//
// Invariants checked: every entry sent is reported exactly once, as a success
// or a failure; an unreadable 2xx body is InvalidResponse; an error always has
// a code and a message.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "aws/error.h"
#include "aws/sns_client.h"

namespace {

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace docvault::aws;
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  HttpResponse response;
  response.status = 200;
  response.headers = {{"x-amzn-RequestId", "fuzz"}};
  response.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (selector % 2 == 0) {
    const std::size_t count = (selector / 2) % 11;  // 0..10 entries sent
    try {
      auto result = parse_publish_batch_response(response, count);
      std::vector<int> reported(count, 0);
      for (const auto& success : result.successful) {
        check(success.index < count);
        ++reported[success.index];
      }
      for (const auto& failure : result.failed) {
        check(failure.index < count);
        ++reported[failure.index];
      }
      for (int n : reported) check(n == 1);
    } catch (const AwsError& e) {
      check(e.code() == "InvalidResponse");
    }
  } else {
    response.status = 400 + selector % 100;
    auto error = parse_sns_error(response);
    check(!error.code().empty() && !error.message().empty());
  }
  return 0;
}
