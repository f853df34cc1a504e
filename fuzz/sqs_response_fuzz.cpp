// Fuzzes what docvault reads from SQS's JSON 1.0 answers: a ReceiveMessage
// response (messages, attributes, MD5 checks), a batch response
// (DeleteMessageBatch / ChangeMessageVisibilityBatch, per entry) and an error
// response. The first byte picks the parser and, for batches, how many
// entries were sent; the rest is the response body.
//
// Invariants checked: every entry sent is reported exactly once, as a success
// or a failure; a message without a matching MD5OfBody carries an
// integrity error; an error always has a code and a message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "aws/error.h"
#include "aws/sqs_client.h"
#include "crypto/crypto.h"
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

  switch (selector % 3) {
    case 0:
      try {
        for (const auto& message : parse_receive_message_response(response)) {
          bool digest_matches = !message.md5_of_body.empty() &&
                                docvault::crypto::md5_hex(message.body) == message.md5_of_body;
          check(digest_matches != message.integrity_error.has_value());
        }
      } catch (const AwsError& e) {
        check(e.code() == "InvalidResponse");
      }
      break;
    case 1: {
      const std::size_t count = (selector / 3) % 11;  // 0..10 entries sent
      try {
        docvault::fuzz::check_each_entry_reported_once(parse_batch_response(response, count), count,
                                                       [](std::size_t index) { return index; });
      } catch (const AwsError& e) {
        check(e.code() == "InvalidResponse");
      }
      break;
    }
    default: {
      response.status = 400 + selector % 100;
      if (selector & 0x80) {
        response.headers.push_back({"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"});
      }
      auto error = parse_sqs_error(response);
      check(!error.code().empty() && !error.message().empty());
      break;
    }
  }
  return 0;
}
