// SPDX-License-Identifier: MIT
#include "builder/phases/nixos_rebuild.hpp"

#include "builder/activation/activate_here.hpp"
#include "uploader/base/process.hpp"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <unistd.h>

namespace fleet::builder {

using protocol::Phase;
using protocol::Status;

bool has_nixos_rebuild() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && access((std::filesystem::path(dir) / "nixos-rebuild").c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

std::vector<TargetState*> rebuild_self_targets(std::vector<TargetState>& targets, const std::string& flake_ref,
                                               const NixCli& nix, EventWriter& events) {
  std::vector<TargetState*> taken;
  for (auto& state : targets) {
    const auto& target = state.target;
    if (state.failed || target.mode != protocol::TargetMode::self || !protocol::activates(target.action)) {
      continue;
    }
    taken.push_back(&state);
    // nixos-rebuild builds and activates in one go, so pre-activation secrets go in before it.
    bool with_secrets = protocol::installs_secrets(target.action);
    if (with_secrets && !secrets::pre_activation(state.secrets.bundle, state.secrets.options, events)) {
      state.failed = true;
      events.emit(target.node, Phase::activate, Status::fail, "not activated: a required pre-activation secret failed");
      continue;
    }
    const std::string action = protocol::to_string(target.action);
    std::vector<std::string> argv{"nixos-rebuild", action, "--flake", flake_ref + "#" + target.node};
    for (const auto& [key, value] : nix.options()) {
      argv.insert(argv.end(), {"--option", key, value});
    }
    argv = as_root(argv);
    events.emit(target.node, Phase::activate, Status::start, describe_command(argv));
    auto log = [&](std::string_view line) { events.emit(target.node, Phase::activate, Status::progress, line); };
    auto result = run_process({argv, {}, "", std::chrono::seconds{protocol::k_default_build_timeout}}, log, log);
    if (!result.ok()) {
      state.failed = true;
      events.emit(target.node, Phase::activate, Status::fail, "nixos-rebuild " + action + " failed:\n" + result.err_tail);
      continue;
    }
    std::error_code ec;
    auto current = std::filesystem::read_symlink("/run/current-system", ec);
    nlohmann::json extra = nlohmann::json::object();
    if (!ec && target.action != protocol::Action::boot) {
      extra["storePath"] = current.string();
    }
    events.emit(target.node, Phase::activate, Status::ok, "nixos-rebuild " + action + " done", extra);
    state.failed = with_secrets && !secrets::post_activation(state.secrets.bundle, state.secrets.options, events);
  }
  return taken;
}

}  // namespace fleet::builder
