// What the fuzz targets share: the check that stops a run with a crash
// libFuzzer reports (and keeps the input of), and the batch-response
// invariant of the SQS and SNS parsers.
#pragma once

#include <cstddef>
#include <vector>

namespace docvault::fuzz {

// A property the input broke: trap, so the run stops on this input.
inline void check(bool condition) {
  if (!condition) __builtin_trap();
}

// Every one of the `sent` entries of a batch call is reported exactly once,
// as a success or as a failure. `success_index` gives a success's entry index.
template <class Result, class SuccessIndex>
void check_each_entry_reported_once(const Result& result, std::size_t sent, SuccessIndex success_index) {
  std::vector<int> reported(sent, 0);
  for (const auto& success : result.successful) {
    const std::size_t index = success_index(success);
    check(index < sent);
    ++reported[index];
  }
  for (const auto& failure : result.failed) {
    check(failure.index < sent);
    ++reported[failure.index];
  }
  for (int n : reported) check(n == 1);
}

}  // namespace docvault::fuzz
