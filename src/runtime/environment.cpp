#include "runtime/environment.h"

#include <cstdlib>
#include <memory>

namespace docvault::runtime {

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables) {
  auto shared = std::make_shared<const std::map<std::string, std::string, std::less<>>>(std::move(variables));
  return [shared](std::string_view name) -> std::optional<std::string> {
    auto found = shared->find(name);
    if (found == shared->end() || found->second.empty()) return std::nullopt;
    return found->second;
  };
}

}  // namespace docvault::runtime
