// SPDX-License-Identifier: MIT
// Test-only: an environment variable set (or unset) for one scope.
#pragma once

#include <cstdlib>
#include <string>

#include <stdlib.h>

namespace fleet::test {

// Sets `name` to `value` (unsets it when value is null) and restores the old state on exit.
class ScopedEnv {
public:
  ScopedEnv(std::string name, const char* value) : m_name(std::move(name)) {
    const char* old = std::getenv(m_name.c_str());
    m_had = old != nullptr;
    m_old = m_had ? old : "";
    if (value == nullptr) {
      ::unsetenv(m_name.c_str());
    } else {
      ::setenv(m_name.c_str(), value, 1);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (m_had) {
      ::setenv(m_name.c_str(), m_old.c_str(), 1);
    } else {
      ::unsetenv(m_name.c_str());
    }
  }

private:
  std::string m_name;
  std::string m_old;
  bool m_had = false;
};

}  // namespace fleet::test
