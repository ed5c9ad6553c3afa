// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/action.hpp"
#include "uploader/protocol/activation_spec.hpp"
#include "uploader/protocol/job.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace fleet::builder {

// One activation on this host, written down before anything changes so that the detached
// supervisor, a later `confirm` and a reattaching deployer all work from the same facts.
struct ActivationRecord {
  std::string id;
  std::string node;
  std::string store_path;
  protocol::Action action = protocol::Action::switch_;
  protocol::ActivationSpec spec;
  std::map<std::string, std::string> nix_options;
  int timeout_seconds = protocol::k_default_activate_timeout;  // switch-to-configuration is killed after this long
  int previous_generation = 0;         // system profile generation before; 0: none (first deployment)
  std::string previous_path;           // the store path of that generation, for the closure difference
  std::string previous_system;         // what ran before (/run/current-system), or empty
};

// The files of each activation under <state_dir>/activations/<id>/: record.json, events.jsonl
// (the supervisor's events), decision (the first of "confirmed" or "expired" wins), supervisor.pid.
class ActivationStore {
public:
  explicit ActivationStore(std::filesystem::path state_dir) : m_root(std::move(state_dir) / "activations") {}

  // Creates the activation's directory (0700) and writes its record. Throws fleet::Error.
  void create(const ActivationRecord& record) const;
  // Reads a record back. Throws fleet::Error when the id is unknown or malformed.
  ActivationRecord load(const std::string& id) const;

  std::filesystem::path events_file(const std::string& id) const { return dir(id) / "events.jsonl"; }
  std::filesystem::path pid_file(const std::string& id) const { return dir(id) / "supervisor.pid"; }

  // Records `decision` unless another was recorded first; true when this call decided.
  bool decide(const std::string& id, const std::string& decision) const;
  std::optional<std::string> decision(const std::string& id) const;

private:
  std::filesystem::path dir(const std::string& id) const;
  std::filesystem::path m_root;
};

// A fresh id such as "t1-1763765000-3f2a"; ids name directories, so they are checked on input.
std::string new_activation_id(const std::string& node);
bool is_activation_id(const std::string& id);

// The system profile generation the profile points at now (0 when there is none), and its path.
int current_generation(const std::filesystem::path& profile);

}  // namespace fleet::builder
