// SPDX-License-Identifier: MIT
#include "builder/activation/switch_inhibitors.hpp"

#include "uploader/base/file_io.hpp"

namespace fleet::builder {

std::optional<std::string> switch_inhibited(protocol::Action action, const std::optional<std::string>& running,
                                            const std::optional<std::string>& next) {
  if (!protocol::changes_running_system(action) || !running || !next || *running == *next) {
    return std::nullopt;
  }
  return "the new system's switch-inhibitors differ from the running system's (a component that cannot change under "
         "a running system, such as systemd, changed): " +
         protocol::to_string(action) + " is refused; deploy with action boot and reboot the host";
}

std::optional<std::string> check_switch_inhibitors(protocol::Action action, const std::filesystem::path& running_system,
                                                   const std::filesystem::path& new_system) {
  if (running_system.empty()) {
    return std::nullopt;
  }
  return switch_inhibited(action, read_whole_file(running_system / "switch-inhibitors"),
                          read_whole_file(new_system / "switch-inhibitors"));
}

}  // namespace fleet::builder
