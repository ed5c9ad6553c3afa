// SPDX-License-Identifier: MIT
#include "coordinator/run/build_job.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace fleet::coordinator {
namespace {

// user@host of whoever runs fleet, as a target's activation lock names its holder.
std::string local_deployer() {
  const passwd* user = ::getpwuid(::geteuid());
  const char* name = user != nullptr ? user->pw_name : std::getenv("USER");
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) {
    host[0] = '\0';
  }
  std::string deployer = std::string(name != nullptr && *name != '\0' ? name : "unknown") + "@" +
                         (host[0] != '\0' ? host : "unknown");
  return protocol::is_printable_name(deployer) ? deployer : "unknown";
}

}  // namespace

protocol::BuildJob make_build_job(const JobSource& source, const BuildLocation& location,
                                  std::vector<protocol::JobTarget> targets, const std::string& work_dir_suffix) {
  protocol::BuildJob job;
  job.run_id = source.run_id + work_dir_suffix;
  job.deployer = local_deployer();
  job.source_hash = source.source_hash;
  job.flake = source.flake;
  job.nix_options = source.nix_options;
  job.inventory = source.inventory;
  job.targets = std::move(targets);
  job.eval_memory_mb = location.eval_memory_mb;
  job.eval_workers = location.eval_workers;
  job.timeouts = job_timeouts(location.run.timeouts);
  job.retries = job_retries(location.run.retries);
  return job;
}

std::chrono::seconds job_time_bound(const protocol::BuildJob& job) {
  const auto& t = job.timeouts;
  const auto rounds = [&job](long long at_once) {
    return (static_cast<long long>(job.targets.size()) + at_once - 1) / at_once;
  };
  const long long builds = rounds(protocol::k_agent_builds_at_once);
  const long long deliveries = rounds(protocol::k_agent_deliveries_at_once);
  const long long connects = static_cast<long long>(t.connect) * (job.retries.count + 1);
  return std::chrono::seconds{connects + t.build + builds * t.build + deliveries * (t.copy + t.activate + 2 * connects) + 120};
}

}  // namespace fleet::coordinator
