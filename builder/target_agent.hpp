// SPDX-License-Identifier: MIT
#pragma once

#include "builder/nix_cli.hpp"
#include "uploader/base/process.hpp"
#include "uploader/protocol/agent_version.hpp"

#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace fleet::builder {

// What a delegated target's own fleet-builder said to the probe's `fleet-builder version --json`.
struct TargetAgentProbe {
  enum class Outcome {
    not_probed,
    same,        // this build node's release and protocol: the target's own agent is used
    missing,     // the login shell found no fleet-builder (exit 127)
    different,   // another release or protocol
    unreadable,  // no valid answer (an old agent without `version`, or nonsense)
  };
  Outcome outcome = Outcome::not_probed;
  protocol::AgentVersion version;  // the target's, when it gave one
  std::string detail;              // why the answer could not be read
};

inline constexpr const char* k_agent_version_command = "fleet-builder version --json";

// Keeps the first line a peer prints to `version --json`, cut one byte past the longest valid
// answer so that parse_agent_version() refuses an overlong one as such; the rest is dropped.
class FirstLine {
public:
  LineHandler sink() {
    return [this](std::string_view line) {
      if (!m_seen) {
        m_seen = true;
        m_text = line.substr(0, protocol::k_max_version_answer + 1);
      }
    };
  }
  const std::string& text() const { return m_text; }

private:
  bool m_seen = false;
  std::string m_text;
};

// Reads how the probe ended: the remote command's exit code (not ssh's own 255) and the first
// line it printed, compared with this agent's version.
TargetAgentProbe read_agent_probe(int exit_code, std::string_view first_line);

// "its fleet-builder is 0.1.0 (protocol 2)", "it has no fleet-builder", …, for the probe's event.
std::string describe_probe(const TargetAgentProbe& probe);

// The fleet-builder that runs on a delegated target for activate, confirm and attach.
struct TargetAgent {
  std::string command = "fleet-builder";  // the target's own, on its login PATH, or a store path
  std::string copied;                     // a store path to copy with the closure; empty when none
  std::string why;                        // the choice, in words, for the target's log
};

// Chooses the target's agent: its own when the probe found this release; else the new system's
// when `system_agent()` names one of this release (already in the closure); else the agent
// `brought_path()` returns, copied along.
TargetAgent choose_target_agent(const TargetAgentProbe& probe,
                                const std::function<std::optional<std::string>()>& system_agent,
                                const std::function<std::string()>& brought_path);

// The fleet-builder of the system closure `system_path` (built here) when it is this release:
// sw/bin/fleet-builder resolved to its package's path, which the target's sudo rules allow
// (/nix/store/*/bin/fleet-builder). Nothing when the system has none, it is not in a store
// path, or it does not answer this release to `version --json`.
std::optional<std::string> system_closure_agent(const std::string& system_path);

// Runs `agent version --json` on this host (a binary from a closure built here), with a short
// time limit; nothing when it does not answer with a valid version.
std::optional<protocol::AgentVersion> local_agent_version(const std::filesystem::path& agent);

// agent_store_path() made at most once per job, for the targets that need it, whichever thread
// asks first. A failure is not remembered: the next target tries again and reports its own.
class BroughtAgent {
public:
  BroughtAgent(const NixCli& nix, std::filesystem::path state_dir) : m_nix(nix), m_state_dir(std::move(state_dir)) {}
  std::string path();

private:
  const NixCli& m_nix;
  std::filesystem::path m_state_dir;
  std::mutex m_mutex;
  std::optional<std::string> m_path;
};

}  // namespace fleet::builder
