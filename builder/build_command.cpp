// SPDX-License-Identifier: MIT
#include "builder/build_command.hpp"

#include "builder/nix_cli.hpp"
#include "builder/phases/delivery.hpp"
#include "builder/phases/nix_build.hpp"
#include "builder/phases/nixos_rebuild.hpp"
#include "uploader/base/error.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <unistd.h>

namespace fleet::builder {
namespace {

constexpr std::size_t k_max_job_bytes = 16 << 20;
constexpr std::size_t k_deliver_parallel = 4;

nlohmann::json read_job(std::istream& input) {
  std::string text;
  char buffer[65536];
  while (input.read(buffer, sizeof buffer) || input.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(input.gcount()));
    if (text.size() > k_max_job_bytes) {
      throw ProtocolError("the job on stdin exceeds " + std::to_string(k_max_job_bytes) + " bytes");
    }
  }
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    throw ProtocolError("the job on stdin is not valid JSON");
  }
  return json;
}

}  // namespace

std::filesystem::path default_state_dir() {
  if (geteuid() == 0) {
    return "/var/lib/fleet";
  }
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path base = state && *state ? state : std::filesystem::path(home ? home : "/tmp") / ".local/state";
  return base / "fleet-builder";
}

int run_build(std::istream& job_input, const AgentPaths& paths, EventWriter& events) {
  auto job = protocol::parse_build_job(read_job(job_input));
  std::vector<TargetState> targets;
  for (const auto& target : job.targets) {
    targets.push_back({target, "", "", false});
  }
  auto source = paths.sources() / job.source_hash;
  if (!std::filesystem::is_directory(source)) {
    for (auto& t : targets) {
      events.emit(t.target.node, protocol::Phase::unpack, protocol::Status::fail,
                  "source " + job.source_hash + " was not received on this host");
    }
    return 1;
  }
  auto work_dir = paths.run_dir(job.run_id);
  std::filesystem::create_directories(work_dir);
  NixCli nix(job.nix_options);
  std::string flake_ref = "path:" + (source / job.flake).lexically_normal().string();

  DeliveryLimits limits{job.timeouts, job.retries};
  std::chrono::seconds build_timeout{job.timeouts.build};
  probe_targets(targets, work_dir, events, limits);
  // On a NixOS host a self-building target goes through nixos-rebuild; everything else (and
  // every host without it, such as the lab's) gets nixos-rebuild's steps from the agent.
  std::vector<TargetState*> rebuilt;
  if (has_nixos_rebuild()) {
    rebuilt = rebuild_self_targets(targets, flake_ref, nix, events);
  }
  std::vector<TargetState> own_steps;
  for (auto& t : targets) {
    if (std::find(rebuilt.begin(), rebuilt.end(), &t) == rebuilt.end()) {
      own_steps.push_back(t);
    }
  }
  evaluate_targets(own_steps, flake_ref, nix, events, build_timeout);
  build_targets(own_steps, nix, paths.roots(), events, build_timeout);
  deliver_targets(own_steps, nix, work_dir, k_deliver_parallel, events, limits);

  std::error_code ignored;
  std::filesystem::remove_all(work_dir, ignored);
  auto failed = [](const TargetState& t) { return t.failed; };
  bool all_ok = std::none_of(own_steps.begin(), own_steps.end(), failed) &&
                std::none_of(rebuilt.begin(), rebuilt.end(), [](const TargetState* t) { return t->failed; });
  return all_ok ? 0 : 1;
}

}  // namespace fleet::builder
