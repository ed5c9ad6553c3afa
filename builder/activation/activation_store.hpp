// SPDX-License-Identifier: MIT
#pragma once

#include "builder/activation/activation_stage.hpp"
#include "builder/secrets/secret_bundle.hpp"
#include "uploader/base/unique_fd.hpp"
#include "uploader/protocol/action.hpp"
#include "uploader/protocol/activation_spec.hpp"
#include "uploader/protocol/job.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::builder {

// One activation on this host, written down before anything changes so that the root
// supervisor, `recover`, a later `confirm` and a reattaching deployer all work from the same
// facts. The secrets travel as ciphertext: only the supervisor decrypts them.
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
  std::string run_id;                  // the deployment run that asked for it, for the lock's holder
  std::string deployer;                // user@host of whoever ran that deployment
  secrets::SecretBundle secrets;       // the node's secrets, age ciphertexts
  std::string host_key;                // the identity that decrypts them; empty: the default
};

// The files of each activation under <state_dir>/activations/<id>/, a directory that belongs to
// the (possibly unprivileged) agent that created it; the root supervisor gives every file it
// writes there to the directory's owner, so that agent can still read them:
//   record.json   the record; the supervisor (or recover) holds an flock on it while it works
//   events.jsonl  the supervisor's events, created empty by the agent
//   stage         how far it got (see activation_stage.hpp)
//   decision      the first of "confirmed" or "expired" wins
class ActivationStore {
public:
  explicit ActivationStore(std::filesystem::path state_dir)
      : m_state_dir(std::move(state_dir)), m_root(m_state_dir / "activations") {}

  // Creates the activation's directory (0700) with its record and an empty events file.
  // Throws fleet::Error.
  void create(const ActivationRecord& record) const;
  // Reads a record back. Throws fleet::Error when the id is unknown or malformed.
  ActivationRecord load(const std::string& id) const;
  // Every activation id on this host, oldest first.
  std::vector<std::string> ids() const;

  std::filesystem::path events_file(const std::string& id) const { return dir(id) / "events.jsonl"; }
  const std::filesystem::path& state_dir() const { return m_state_dir; }

  // Records `decision` unless another was recorded first; true when this call decided.
  bool decide(const std::string& id, const std::string& decision) const;
  std::optional<std::string> decision(const std::string& id) const;

  // The stage last recorded; nullopt before the supervisor recorded any (or for an activation
  // made by an older agent, which has no stage file).
  std::optional<Stage> stage(const std::string& id) const;
  void set_stage(const std::string& id, Stage stage) const;

  // Takes the activation's flock for its supervisor or recover, waiting for it when `wait`;
  // an invalid fd when another process holds it and `wait` is false.
  UniqueFd hold(const std::string& id, bool wait) const;
  // True while some process holds that flock: a supervisor or recover is at work on it.
  bool held(const std::string& id) const;

  // Writes `content` to the activation's file `name`, given to the directory's owner. Throws.
  void write_file(const std::string& id, const std::string& name, const std::string& content) const;

private:
  std::filesystem::path dir(const std::string& id) const;
  std::filesystem::path m_state_dir;
  std::filesystem::path m_root;
};

// A fresh id such as "t1-1763765000-5c1e09a23f2a77b4"; ids name directories, so they are checked
// on input.
std::string new_activation_id(const std::string& node);
bool is_activation_id(const std::string& id);

// The system profile generation the profile points at now (0 when there is none), and its path.
int current_generation(const std::filesystem::path& profile);

// True when an events file holds an event with a "final" result.
bool has_final_event(const std::filesystem::path& events_file);

}  // namespace fleet::builder
