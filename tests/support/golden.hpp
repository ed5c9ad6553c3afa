// SPDX-License-Identifier: MIT
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fleet::test {

// Absolute path of `name` under tests/data/.
inline std::filesystem::path data_path(const std::string& name) {
  return std::filesystem::path(FLEET_TEST_DATA_DIR) / name;
}

// Compares `actual` with the golden file tests/data/<name>. With FLEET_TEST_ACCEPT=1 in the
// environment it rewrites the file instead and warns, so changed output is re-accepted in one run
// and reviewed as a diff.
inline void check_golden(const std::string& name, const std::string& actual) {
  const std::filesystem::path path = data_path(name);
  const char* accept = std::getenv("FLEET_TEST_ACCEPT");
  if (accept != nullptr && std::string(accept) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    WARN("accepted golden file " << path.string());
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    FAIL("golden file " << path.string() << " is missing; run the tests with FLEET_TEST_ACCEPT=1 to create it");
  }
  std::stringstream expected;
  expected << in.rdbuf();
  INFO("golden file " << path.string() << " (FLEET_TEST_ACCEPT=1 rewrites it)");
  CHECK(actual == expected.str());
}

}  // namespace fleet::test
