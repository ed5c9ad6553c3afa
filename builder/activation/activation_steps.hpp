// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activation_stage.hpp"
#include "builder/activation/activation_store.hpp"
#include "builder/event_writer.hpp"
#include "builder/nix_cli.hpp"
#include "builder/secrets/generation_secrets.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace fleet::builder {

// The privileged steps of one activation, as root, each an event in the activation's events
// file: the supervisor runs them forward, `recover` finishes or undoes what a dead supervisor
// left. Every result goes through finish(), which writes the final event and the stage `ended`.
class ActivationSteps {
public:
  ActivationSteps(const ActivationStore& store, ActivationRecord record, EventWriter& events,
                  secrets::SecretOptions secret_options);

  const ActivationRecord& record() const { return m_record; }
  EventWriter& events() { return m_events; }
  const secrets::GenerationSecrets& secrets() const { return m_secrets; }

  void set_stage(Stage stage);
  Stage stage() const { return m_stage; }

  // Runs one command with its output as progress events; true on exit 0. The failure's
  // description ("… timed out after 5 s", "… exited with 1") is kept in last_failure().
  bool run(const std::vector<std::string>& argv, std::chrono::seconds timeout,
           protocol::Phase phase = protocol::Phase::activate);
  bool run_hook(const char* name, const std::string& command);
  // SYSTEM/bin/switch-to-configuration VERB, bounded by the activation's timeout.
  bool switch_to(const std::string& system, const std::string& verb, protocol::Phase phase = protocol::Phase::activate);
  // Makes the new system the boot default: the system profile, then `switch-to-configuration boot`.
  bool commit();
  // Keeps the new system's secrets for it, and the previous one's when an older agent kept
  // them per node only, so a rollback can return to them. False (with an event) on failure.
  bool keep_secrets();
  bool install_secrets(const std::string& when);

  // Puts back what `undo` says, in the order that leaves the host consistent at each step:
  // the boot default, the secrets, the running system. `reason` starts every message.
  int roll_back(const std::string& reason, const Undo& undo);
  // The final ok event, with the closure difference when the profile moved.
  int succeed(const std::string& message);
  int finish(protocol::Phase phase, protocol::Status status, const std::string& msg, const std::string& result,
             nlohmann::json extra = nlohmann::json::object());

  const std::string& last_failure() const { return m_last_failure; }
  std::string action_name() const { return protocol::to_string(m_record.action); }

private:
  const ActivationStore& m_store;
  ActivationRecord m_record;
  EventWriter& m_events;
  secrets::GenerationSecrets m_secrets;
  NixCli m_nix;
  Stage m_stage = Stage::started;
  std::string m_last_failure;
};

}  // namespace fleet::builder
