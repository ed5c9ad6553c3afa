// SPDX-License-Identifier: MIT
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <filesystem>
#include <string>
#include <system_error>

namespace fleet::test {

// A fresh directory under $TMPDIR (or /tmp) for one test. It is removed at the end unless the
// test is failing (a REQUIRE unwinding or the last assertion failed), so evidence stays behind.
class TempDir {
public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        (std::filesystem::path(base != nullptr && *base != '\0' ? base : "/tmp") / "fleet-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    // Canonical so tests compare paths the code under test also canonicalises.
    m_path = std::filesystem::canonical(pattern);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    // A failed REQUIRE is unwinding, a failed CHECK is the last assertion: keep the evidence.
    const bool failing = std::uncaught_exceptions() > 0 || !Catch::getResultCapture().lastAssertionPassed();
    if (!failing) {
      std::error_code ignored;
      std::filesystem::remove_all(m_path, ignored);
    }
  }

  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& relative) const { return m_path / relative; }

private:
  std::filesystem::path m_path;
};

}  // namespace fleet::test
