// SPDX-License-Identifier: MIT
// fleet.json as a user (or an attacker with write access to the repository) may write it: any
// bytes must end in a FleetConfig or a fleet::ConfigError, never in another exception or a crash.
#include "coordinator/config/fleet_config.hpp"
#include "uploader/base/error.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("fleet-fuzz-config-" + std::to_string(getpid())) / "fleet.json";
  static const bool made = std::filesystem::create_directories(file.parent_path()) || true;
  (void)made;
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  try {
    fleet::coordinator::load_fleet_config(file);
  } catch (const fleet::ConfigError&) {
  }
  return 0;
}
