// Fuzzes start-up configuration: the input is an environment, one NAME=value
// per line (a line without '=' sets NAME to ""; a later line wins), handed to
// load_config, check_relay_targets and describe_config as `docvault serve`
// and `docvault config check` would.
//
// Invariants checked: a refusal names a known variable and says what is
// allowed; describe_config never prints a secret's value.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "app/config.h"
#include "fuzz_check.h"

using docvault::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace docvault::app;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string, std::less<>> variables;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    auto equals = line.find('=');
    variables[std::string(line.substr(0, equals))] =
        equals == std::string_view::npos ? std::string() : std::string(line.substr(equals + 1));
  }
  Environment env = [&variables](std::string_view name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };

  auto loaded = load_config(env);
  if (auto* error = std::get_if<ConfigError>(&loaded)) {
    bool known = false;
    for (const auto& variable : config_variables()) known = known || variable.name == error->variable;
    check(known);
    check(!error->allowed.empty() && !error->message().empty());
  } else {
    (void)check_relay_targets(std::get<Config>(loaded));
  }

  // Each secret's own line shows it redacted. (DATABASE_URL keeps all but its
  // password, which store tests check; a URL without one is shown whole.)
  auto description = "\n" + describe_config(env);
  for (const auto& variable : config_variables()) {
    auto value = env(variable.name);
    if (!variable.secret || variable.name == "DATABASE_URL" || !value || value->size() < 12) continue;
    auto start = description.find("\n" + std::string(variable.name) + "=");
    check(start != std::string::npos);
    start += variable.name.size() + 2;
    auto shown = std::string_view(description).substr(start, description.find("  # ", start) - start);
    check(shown.find(*value) == std::string_view::npos);
  }
  return 0;
}
