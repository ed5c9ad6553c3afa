// SPDX-License-Identifier: MIT
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace fleet::test {

// Compares `actual` with the golden file FLEET_TEST_DATA_DIR/<relative_name>. With
// FLEET_TEST_ACCEPT=1 in the environment the file is rewritten instead, with a warning.
inline void check_golden(const std::string& relative_name, const std::string& actual) {
  const std::filesystem::path path = std::filesystem::path(FLEET_TEST_DATA_DIR) / relative_name;
  const char* accept = std::getenv("FLEET_TEST_ACCEPT");
  if (accept != nullptr && std::string_view(accept) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    WARN("rewrote golden file " << path.string());
    return;
  }
  std::ifstream in(path, std::ios::binary);
  INFO("golden file " << path.string() << " (FLEET_TEST_ACCEPT=1 rewrites it)");
  REQUIRE(in.good());
  const std::string expected{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(actual == expected);
}

}  // namespace fleet::test
