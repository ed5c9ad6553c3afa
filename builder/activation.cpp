// SPDX-License-Identifier: MIT
#include "builder/activation.hpp"

#include "builder/closure_diff.hpp"
#include "uploader/base/process.hpp"

#include <filesystem>

namespace fleet::builder {

using protocol::Phase;
using protocol::Status;

bool is_store_path(const std::string& path) {
  const std::string prefix = "/nix/store/";
  if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  std::string name = path.substr(prefix.size());
  return name.find('/') == std::string::npos && name != "." && name != ".." && name.find('\n') == std::string::npos;
}

bool activate_here(const ActivationRequest& request, const NixCli& nix, EventWriter& events) {
  const auto& node = request.node;
  auto fail = [&](const std::string& why) {
    events.emit(node, Phase::activate, Status::fail, why);
    return false;
  };
  events.emit(node, Phase::activate, Status::start, request.action + " " + request.store_path);
  if (!is_store_path(request.store_path)) {
    return fail("'" + request.store_path + "' is not a store path");
  }
  auto switch_script = std::filesystem::path(request.store_path) / "bin" / "switch-to-configuration";
  if (request.action != "build" && !std::filesystem::exists(switch_script)) {
    return fail(request.store_path + " has no bin/switch-to-configuration; is it a NixOS system closure?");
  }
  auto log = [&](std::string_view line) { events.emit(node, Phase::activate, Status::progress, line); };

  std::string previous;  // the generation being replaced, for the report's closure difference
  if (request.action == "switch" || request.action == "boot") {
    previous = profile_store_path(k_system_profile);
    auto argv = as_root(nix.legacy("nix-env", {"-p", k_system_profile, "--set", request.store_path}));
    auto result = run_process({argv, {}, "", std::chrono::seconds{300}}, log, log);
    if (!result.ok()) {
      return fail("setting the system profile failed (" + describe_command(argv) + "): " + result.err_tail);
    }
  }
  if (request.action != "build") {
    auto argv = as_root({switch_script.string(), request.action});
    auto result = run_process({argv, {}, "", std::chrono::seconds{request.timeout_seconds}}, log, log);
    if (!result.ok()) {
      std::string how = result.timed_out ? "timed out after " + std::to_string(request.timeout_seconds) + " s" : "exited with " + std::to_string(result.exit_code);
      return fail("switch-to-configuration " + request.action + " " + how + ": " + result.err_tail);
    }
  }
  nlohmann::json extra = {{"storePath", request.store_path}};
  if (!previous.empty()) {
    extra["previousPath"] = previous;
    extra["closureDiff"] = diff_closures(nix, previous, request.store_path);
  }
  events.emit(node, Phase::activate, Status::ok, request.action + " done", extra);
  return true;
}

}  // namespace fleet::builder
