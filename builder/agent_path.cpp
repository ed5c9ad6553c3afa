// SPDX-License-Identifier: MIT
#include "builder/agent_path.hpp"

#include "uploader/base/error.hpp"

#include <cstdlib>
#include <sstream>
#include <unistd.h>

namespace fleet::builder {

std::filesystem::path agent_self_path() {
  const char* wrapper = std::getenv("FLEET_AGENT_PATH");
  std::error_code ec;
  if (wrapper != nullptr && *wrapper == '/' && std::filesystem::is_regular_file(wrapper, ec)) {
    return wrapper;
  }
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw Error("cannot find this program's own path in /proc/self/exe: " + ec.message() +
                " (set FLEET_AGENT_PATH to the /nix/store/…/bin/fleet-builder it runs from)");
  }
  return self;
}

std::optional<std::filesystem::path> find_on_path(const std::string& program, const std::string& path_variable) {
  std::stringstream dirs(path_variable);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    // A relative PATH entry would make root run whatever the current directory holds.
    if (dir.empty() || dir.front() != '/') {
      continue;
    }
    auto candidate = std::filesystem::path(dir) / program;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  return find_on_path(program, path ? path : "");
}

}  // namespace fleet::builder
