// The process environment, behind one seam.
//
// An `Environment` reads one variable: nullopt when it is unset or empty (an
// empty value counts as unset, as the AWS SDKs, shells and task definitions
// treat it). Configuration and the AWS layer read variables only through
// one, so tests inject values without touching the real environment.
//
// Thread-safety: the environments made here may be called from any thread
// (the process one assumes nothing calls setenv meanwhile).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace docvault::runtime {

using Environment = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
Environment process_environment();
// A fixed set of variables, for tests.
Environment fixed_environment(std::map<std::string, std::string, std::less<>> variables);

}  // namespace docvault::runtime
