// SPDX-License-Identifier: MIT
#include "builder/activation/activate_here.hpp"

#include "builder/activation/activation_store.hpp"
#include "builder/activation/follow.hpp"
#include "builder/activation/supervisor_launch.hpp"
#include "builder/activation/switch_inhibitors.hpp"
#include "builder/agent_store.hpp"
#include "builder/closure_diff.hpp"
#include "uploader/base/error.hpp"

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

std::string activate_here(const ActivationRequest& request, const NixCli& nix, const std::filesystem::path& state_dir,
                          EventWriter& events, const TargetLock& lock) {
  const auto& node = request.node;
  auto fail = [&](const std::string& why) {
    events.emit(node, Phase::activate, Status::fail, why, {{"final", "failed"}});
    return std::string("failed");
  };
  if (!is_store_path(request.store_path)) {
    return fail("'" + request.store_path + "' is not a store path");
  }
  if (!protocol::activates(request.action)) {
    events.emit(node, Phase::activate, Status::ok, "build: the closure is in place, nothing activated",
                {{"storePath", request.store_path}, {"final", "ok"}});
    return "ok";
  }
  auto script = std::filesystem::path(request.store_path) / "bin" / "switch-to-configuration";
  if (!std::filesystem::exists(script)) {
    return fail(request.store_path + " has no bin/switch-to-configuration; is it a NixOS system closure?");
  }

  if (lock.taken()) {
    auto holder = lock.holder();
    return fail("another activation holds this target: " + (holder ? describe(*holder) : std::string("unknown holder")) +
                "; wait for it to end (`fleet-builder attach --id` follows it)");
  }
  if (auto dead = lock.holder()) {
    events.emit(node, Phase::activate, Status::progress,
                "the lock's holder, " + describe(*dead) + ", has no live supervisor: the new supervisor recovers it first");
  }

  // What runs now is written down before anything changes: rollback never guesses.
  ActivationRecord record;
  record.id = new_activation_id(node);
  record.node = node;
  record.store_path = request.store_path;
  record.action = request.action;
  record.spec = request.spec;
  record.nix_options = nix.options();
  record.timeout_seconds = request.timeout_seconds;
  record.previous_generation = current_generation(k_system_profile);
  record.previous_path = profile_store_path(k_system_profile);
  // What runs is what a rollback returns to, if it is still there to be activated (a store
  // emptied under a running system leaves /run/current-system dangling).
  auto activatable = [](const std::filesystem::path& system) {
    std::error_code missing;
    return !system.empty() && std::filesystem::exists(system / "bin" / "switch-to-configuration", missing);
  };
  std::error_code ec;
  auto running = std::filesystem::read_symlink(k_current_system, ec);
  if (ec || !activatable(running)) {
    running = record.previous_generation == 0
                  ? std::filesystem::path()
                  : std::filesystem::read_symlink(std::string(k_system_profile) + "-" +
                                                      std::to_string(record.previous_generation) + "-link",
                                                  ec);
  }
  if (activatable(running)) {
    record.previous_system = running.string();
  }

  if (auto refused = check_switch_inhibitors(request.action, record.previous_system, request.store_path)) {
    return fail(*refused);
  }
  record.run_id = request.run_id;
  record.deployer = request.deployer;
  record.secrets = request.secrets;
  record.secrets.node = node;
  record.host_key = request.host_key;

  try {
    root_agent_in_use(nix, state_dir);
  } catch (const Error& e) {
    events.emit(node, Phase::activate, Status::progress, std::string(e.what()) + " (a garbage collection may remove it)");
  }
  ActivationStore store(state_dir);
  try {
    store.create(record);
    events.emit(node, Phase::activate, Status::start, protocol::to_string(request.action) + " " + request.store_path,
                {{"activation", record.id}});
    spawn_supervisor(state_dir, record.id);
  } catch (const std::exception& e) {
    if (is_internal_error(e)) {
      throw;
    }
    return fail(std::string("cannot start the activation: ") + e.what());
  }
  return follow_activation(store, record.id, 0, events);
}

}  // namespace fleet::builder
