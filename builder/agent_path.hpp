// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace fleet::builder {

// The absolute path this agent was started by, for starting itself again as the supervisor and
// as its recover step, and for bringing itself to bare targets: $FLEET_AGENT_PATH when it names
// an existing file (the bundle's wrapper sets it: /proc/self/exe is then the bundled loader),
// else the target of /proc/self/exe. Throws fleet::Error when neither can be found.
std::filesystem::path agent_self_path();

// The first executable `program` in the directories of `path_variable` (a PATH value), as an
// absolute path; nullopt when there is none.
std::optional<std::filesystem::path> find_on_path(const std::string& program, const std::string& path_variable);

// find_on_path() on this process's $PATH.
std::optional<std::filesystem::path> find_on_path(const std::string& program);

}  // namespace fleet::builder
