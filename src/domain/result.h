// Validation results as values.
//
// Untrusted input (an HTTP request, a queue message, a configuration value) is
// checked by functions that return either the parsed value or a FieldError
// naming the offending field and why. Callers map a FieldError to a 400, a
// rejected-message record or an exit code; nothing is thrown for bad input.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace docvault {

struct FieldError {
  std::string field;
  std::string message;
  bool operator==(const FieldError&) const = default;
};

template <class T>
class Validated {
 public:
  Validated(T value) : state_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Validated(FieldError error) : state_(std::move(error)) {}   // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  const FieldError& error() const { return std::get<FieldError>(state_); }

 private:
  std::variant<T, FieldError> state_;
};

}  // namespace docvault
