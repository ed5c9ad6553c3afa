// SPDX-License-Identifier: MIT
#include "builder/activation/activation_steps.hpp"

#include "builder/activation/activate_here.hpp"
#include "builder/closure_diff.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/json_document.hpp"

namespace fleet::builder {
namespace {

using protocol::Phase;
using protocol::Status;

constexpr std::chrono::seconds k_profile_timeout{300};

}  // namespace

ActivationSteps::ActivationSteps(const ActivationStore& store, ActivationRecord record, EventWriter& events,
                                 secrets::SecretOptions secret_options)
    : m_store(store),
      m_record(std::move(record)),
      m_events(events),
      m_secrets([&] {
        if (!m_record.host_key.empty()) {
          secret_options.host_key = m_record.host_key;
        }
        return std::move(secret_options);
      }()),
      m_nix(m_record.nix_options),
      m_stage(store.stage(m_record.id).value_or(Stage::started)) {}

void ActivationSteps::set_stage(Stage stage) {
  m_store.set_stage(m_record.id, stage);
  m_stage = stage;
}

bool ActivationSteps::run(const std::vector<std::string>& argv, std::chrono::seconds timeout, Phase phase) {
  auto log = [&](std::string_view line) { m_events.emit(m_record.node, phase, Status::progress, line); };
  // FLEET_ACTIVATION also marks the processes of this activation, so that a switch left running
  // by a dead supervisor can be told from someone else's.
  auto result = run_process({argv,
                             {{"FLEET_NODE", m_record.node},
                              {"FLEET_STORE_PATH", m_record.store_path},
                              {"FLEET_ACTION", action_name()},
                              {"FLEET_ACTIVATION", m_record.id}},
                             "",
                             timeout},
                            log, log);
  if (!result.ok()) {
    m_last_failure = describe_command(argv) + (result.timed_out ? " timed out after " + std::to_string(timeout.count()) + " s"
                                               : result.signal != 0 ? " was killed by signal " + std::to_string(result.signal)
                                                                    : " exited with " + std::to_string(result.exit_code));
    m_events.emit(m_record.node, phase, Status::progress, m_last_failure);
  }
  return result.ok();
}

bool ActivationSteps::run_hook(const char* name, const std::string& command) {
  if (command.empty()) {
    return true;
  }
  m_events.emit(m_record.node, Phase::activate, Status::progress, std::string(name) + " hook: " + command);
  return run({"/bin/sh", "-c", command}, std::chrono::seconds{m_record.spec.hook_timeout});
}

bool ActivationSteps::switch_to(const std::string& system, const std::string& verb, Phase phase) {
  return run({system + "/bin/switch-to-configuration", verb}, std::chrono::seconds{m_record.timeout_seconds}, phase);
}

bool ActivationSteps::commit() {
  if (profile_store_path(k_system_profile) != m_record.store_path &&
      !run(m_nix.legacy("nix-env", {"-p", k_system_profile, "--set", m_record.store_path}), k_profile_timeout)) {
    return false;
  }
  return switch_to(m_record.store_path, "boot");
}

bool ActivationSteps::keep_secrets() {
  try {
    const auto& previous = m_record.previous_system;
    if (!previous.empty() && !m_secrets.kept(previous) && previous != m_record.store_path) {
      // An older agent kept one bundle per node: that is the one the running system got.
      std::error_code ec;
      auto per_node = m_secrets.file_for(previous).parent_path().parent_path() / m_record.node / "secrets.json";
      if (std::filesystem::exists(per_node, ec)) {
        auto text = read_whole_file(per_node);
        m_secrets.keep(previous, secrets::parse_bundle(protocol::parse_json(text.value_or(""))));
      }
    }
    m_secrets.keep(m_record.store_path, m_record.secrets);
    return true;
  } catch (const std::exception& e) {
    if (is_internal_error(e)) {
      throw;
    }
    m_events.emit(m_record.node, Phase::secrets, Status::fail,
                  "cannot keep the secrets of " + m_record.store_path + " for rollbacks and boots: " + describe_error(e));
    return false;
  }
}

bool ActivationSteps::install_secrets(const std::string& when) {
  return m_secrets.install(m_record.secrets, when, m_events);
}

int ActivationSteps::roll_back(const std::string& reason, const Undo& undo) {
  const auto& node = m_record.node;
  if (undo.nothing()) {
    return finish(Phase::activate, Status::fail, reason + "; nothing was changed", "failed");
  }
  m_events.emit(node, Phase::rollback, Status::start, reason);
  if ((undo.profile && m_record.previous_generation == 0) ||
      (undo.running_system && m_record.previous_system.empty())) {
    return finish(Phase::rollback, Status::fail,
                  reason + "; this is the node's first deployment, so there is no previous generation to return to: "
                           "left as it is",
                  "failed");
  }
  if (undo.profile) {
    auto argv = m_nix.legacy("nix-env", {"-p", k_system_profile, "--switch-generation",
                                         std::to_string(m_record.previous_generation)});
    if (!run(argv, k_profile_timeout, Phase::rollback) || !switch_to(m_record.previous_path, "boot", Phase::rollback)) {
      return finish(Phase::rollback, Status::fail, reason + "; restoring the boot default failed: " + m_last_failure,
                    "failed");
    }
  }
  bool secrets_ok = !undo.secrets || m_secrets.return_to(m_record.previous_system, m_record.secrets, m_events);
  if (undo.running_system && !switch_to(m_record.previous_system, "test", Phase::rollback)) {
    return finish(Phase::rollback, Status::fail, reason + "; re-activating " + m_record.previous_system + " failed",
                  "failed");
  }
  if (!undo.running_system && !undo.profile) {
    // Nothing was activated: the node failed, it was not rolled back.
    return finish(Phase::activate, Status::fail,
                  reason + (secrets_ok ? "; the secrets it had were put back" : "; putting its secrets back failed"),
                  "failed");
  }
  std::string back_to =
      undo.running_system ? m_record.previous_system : "generation " + std::to_string(m_record.previous_generation);
  if (!secrets_ok) {
    back_to += " (a required secret of it could not be installed)";
  }
  return finish(Phase::rollback, secrets_ok ? Status::ok : Status::fail, reason + "; rolled back to " + back_to,
                "rolled-back", {{"previousSystem", m_record.previous_system}});
}

int ActivationSteps::succeed(const std::string& message) {
  nlohmann::json extra = {{"storePath", m_record.store_path}};
  if (protocol::sets_system_profile(m_record.action) && !m_record.previous_path.empty()) {
    extra["previousPath"] = m_record.previous_path;
    extra["closureDiff"] = diff_closures(m_nix, m_record.previous_path, m_record.store_path);
  }
  return finish(Phase::activate, Status::ok, message, "ok", extra);
}

int ActivationSteps::finish(Phase phase, Status status, const std::string& msg, const std::string& result,
                            nlohmann::json extra) {
  extra["final"] = result;
  // The final event first: a recover that finds it treats the activation as ended whatever
  // the stage file says.
  m_events.emit(m_record.node, phase, status, msg, extra);
  try {
    set_stage(Stage::ended);
  } catch (const std::exception& e) {
    if (is_internal_error(e)) {
      throw;
    }
  }
  return result == "ok" ? 0 : 1;
}

}  // namespace fleet::builder
