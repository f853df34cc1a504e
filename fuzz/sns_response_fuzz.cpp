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
#include "fuzz_check.h"

using docvault::fuzz::check;

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
      docvault::fuzz::check_each_entry_reported_once(parse_publish_batch_response(response, count), count,
                                                     [](const auto& success) { return success.index; });
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
