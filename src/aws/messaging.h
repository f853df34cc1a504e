// Values SQS and SNS share: message attributes and the failed entries of a
// batch call.
//
// Batch calls (SendMessageBatch, DeleteMessageBatch, PublishBatch, ...) answer
// per entry. The clients name entries by their position in the caller's span
// ("0".."9" on the wire) and report every entry as succeeded or failed: an
// entry the service left out of both lists is reported failed, never dropped.
// Plain values; no shared state.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace docvault::aws {

struct MessageAttributeValue {
  std::string data_type = "String";  // "String", "Number", "Binary", "String.<custom>"
  std::string string_value;          // String and Number types
  std::string binary_value;          // Binary types: base64, as on the wire
};

// By attribute name; sorted, as the MD5 of attributes and stable output want.
using MessageAttributes = std::map<std::string, MessageAttributeValue>;

struct BatchFailure {
  std::size_t index = 0;  // position in the request span
  std::string code;       // "ReceiptHandleIsInvalid", or "MissingFromResponse"
  std::string message;
  bool sender_fault = false;  // the entry itself is bad: retrying it as is will not help
};

// The outcome of a batch call whose successes carry no data.
struct BatchResult {
  std::vector<std::size_t> successful;  // positions in the request span
  std::vector<BatchFailure> failed;
  bool all_succeeded() const { return failed.empty(); }
};

// A message id assigned by a batch send or publish.
struct BatchMessageId {
  std::size_t index = 0;
  std::string message_id;
  std::string sequence_number;  // FIFO only
};

struct SendBatchResult {
  std::vector<BatchMessageId> successful;
  std::vector<BatchFailure> failed;
  bool all_succeeded() const { return failed.empty(); }
};

// For the clients: the position named by a response entry's id ("0".."9"),
// nullopt when the id is not one of the `count` sent.
std::optional<std::size_t> batch_entry_index(std::string_view id, std::size_t count);

// For the clients: a "MissingFromResponse" failure for every entry not `seen`.
void report_missing_entries(const std::vector<bool>& seen, std::vector<BatchFailure>& failed);

}  // namespace docvault::aws
