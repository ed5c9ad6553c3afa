// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/protocol/action.hpp"
#include "uploader/protocol/inventory.hpp"
#include "uploader/protocol/activation_spec.hpp"
#include "uploader/protocol/job_secret.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleet::protocol {

// Version of the coordinator ↔ agent protocol (hello lines and jobs). Bumped on any change
// an older peer would misread.
inline constexpr int k_protocol_version = 3;

// How many targets the agent builds (one nix-store --realise each) and delivers (copies and
// activates) at once.
inline constexpr int k_agent_builds_at_once = 4;
inline constexpr int k_agent_deliveries_at_once = 4;

// How a target gets its system: built on the agent's own host (`self`, the agent runs on the
// target) or built by the agent on a build node and copied to the target (`delegate`).
enum class TargetMode { self, delegate };

// One target of a build job: everything the agent needs to build, deliver and activate it.
struct JobTarget {
  std::string node;
  TargetMode mode = TargetMode::delegate;
  std::string host;       // address the build node uses to reach a delegated target
  std::string user;  // empty: as the build node's ~/.ssh/config says
  int port = 0;      // 0: as the build node's ~/.ssh/config says, else 22
  std::string host_key;   // "ssh-ed25519 AAAA…" pinned in fleet.json; empty: the agent's known_hosts
  Action action = Action::switch_;
  ActivationSpec activation;
  std::vector<JobSecret> secrets; // installed on the target around activation; sent only when not empty
  bool substitute_on_target = false;  // nix copy --substitute-on-destination; sent only when true

  bool operator==(const JobTarget&) const = default;
};

// The defaults of fleet.json's "timeouts" (seconds), "retries" and "evalMemoryMB", declared once:
// the coordinator's settings start from them, and the agent falls back to them when a job omits
// a field (an older coordinator's job).
inline constexpr int k_default_connect_timeout = 30;
inline constexpr int k_default_build_timeout = 6 * 3600;
inline constexpr int k_default_copy_timeout = 3 * 3600;
inline constexpr int k_default_activate_timeout = 1800;
inline constexpr int k_default_retry_count = 3;
inline constexpr int k_default_retry_delay_seconds = 1;
inline constexpr int k_default_eval_memory_mb = 1024;
inline constexpr int k_max_eval_workers = 1024;

// Time limits, in seconds, of the agent's steps for each target; a step that runs longer is
// killed and fails its target. Sent as the job's optional "timeouts" object (absent: these
// defaults, so an older coordinator's jobs keep working).
struct JobTimeouts {
  int connect = k_default_connect_timeout;    // reaching a delegated target over SSH (the probe)
  int build = k_default_build_timeout;        // evaluating, and building each target
  int copy = k_default_copy_timeout;          // copying one closure to its target
  int activate = k_default_activate_timeout;  // activating one target

  bool operator==(const JobTimeouts&) const = default;
};

// Retries of transient SSH failures (unreachable, connection reset or timed out; never host-key
// or authentication failures) when the agent reaches a delegated target: `count` more attempts,
// the first after `delay_seconds`, each later one after twice the previous delay.
struct JobRetries {
  int count = k_default_retry_count;
  int delay_seconds = k_default_retry_delay_seconds;

  bool operator==(const JobRetries&) const = default;
};

// Another build node of the run that the agent's nix may hand builds to (fleet.json
// "remoteBuilders"): where it is, with the host key the coordinator verified, and what it builds.
struct RemoteBuilder {
  std::string name;
  std::string host;
  std::string user;
  int port = 22;
  std::string host_key;  // "<type> <base64>"
  std::vector<std::string> systems;
  int max_jobs = 1;
  int speed = 1;

  bool operator==(const RemoteBuilder&) const = default;
};

inline constexpr std::size_t k_max_remote_builders = 256;

// What the coordinator asks `fleet-builder build` to do, sent as one JSON object on stdin.
struct BuildJob {
  int version = k_protocol_version;
  std::string run_id;
  std::string deployer;     // user@host of whoever runs the deployment, for the targets' lock holder
  std::string source_hash;  // the unpacked source the agent already holds
  std::string flake = ".";  // flake directory, relative to the source root
  // Where the flake keeps its nodes' systems (sent only when set): unset and `fleet` build
  // nixosConfigurations.N.config.system.build.toplevel, `colmena` colmenaHive.toplevel.N.
  std::optional<InventoryKind> inventory;
  std::map<std::string, std::string> nix_options;
  std::vector<JobTarget> targets;
  // Memory one target's evaluation is expected to take (fleet.json `evalMemoryMB`); the agent
  // sizes its evaluation batches from it. Optional on the wire (older coordinators omit it).
  int eval_memory_mb = k_default_eval_memory_mb;
  // At most this many evaluator processes at once (the builder's `maxJobs`); the agent runs no
  // more than it has CPUs. Optional on the wire: an older coordinator's job gets one.
  int eval_workers = 1;
  // The other build nodes its builds may go to; sent only when there are any.
  std::vector<RemoteBuilder> remote_builders;
  JobTimeouts timeouts;
  JobRetries retries;

  bool operator==(const BuildJob&) const = default;
};

nlohmann::json to_json(const BuildJob& job);

// Validates and converts a job received from the other side. Throws ProtocolError naming the
// field at fault (a version mismatch quotes both versions).
BuildJob parse_build_job(const nlohmann::json& json);

// Names and users reach command lines and file names on the agent: true when `value` holds
// only what a host name, user name or NixOS configuration name can contain, does not start
// with '-' and is neither "." nor "..".
bool is_safe_token(std::string_view value);

// True when `value` is a user@host (or any short name) of at most 256 printable ASCII
// characters, not starting with '-': safe to show and to quote onto a command line.
bool is_printable_name(std::string_view value);

// True when `hash` is 64 lowercase hex digits, the only form of content hash on the wire.
bool is_content_hash(std::string_view hash);

// True when `flake` can name a flake directory inside a source: relative, without "..".
bool is_flake_path(std::string_view flake);

}  // namespace fleet::protocol
