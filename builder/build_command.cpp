// SPDX-License-Identifier: MIT
#include "builder/build_command.hpp"

#include "builder/nix_cli.hpp"
#include "builder/phases/batches.hpp"
#include "builder/phases/delivery.hpp"
#include "builder/phases/nix_build.hpp"
#include "builder/phases/pipeline.hpp"
#include "builder/phases/remote_builders.hpp"
#include "builder/source_store.hpp"
#include "builder/target_ssh.hpp"
#include "uploader/base/error.hpp"
#include "uploader/protocol/eval_batches.hpp"
#include "uploader/protocol/json_document.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <iterator>
#include <pwd.h>
#include <system_error>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fleet::builder {
namespace {

constexpr std::size_t k_max_job_bytes = 16 << 20;

// Evaluating many configurations in one nix process shares nixpkgs but can exhaust memory: the
// targets go through eval, build and delivery in batches that fit in MemAvailable, in job order.
// A batch is delivered before the next one is evaluated, so early targets are done early.
void build_in_batches(std::vector<TargetState>& targets, int eval_memory_mb,
                      const std::function<void(std::vector<TargetState>&)>& work, EventWriter& events) {
  std::vector<std::size_t> live;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i].failed) {
      live.push_back(i);
    }
  }
  auto available = read_mem_available_mb();
  auto sizes = protocol::eval_batch_sizes(live.size(), available, eval_memory_mb);
  std::size_t next = 0;
  for (std::size_t b = 0; b < sizes.size(); ++b) {
    std::vector<TargetState> batch;
    for (std::size_t i = 0; i < sizes[b]; ++i) {
      batch.push_back(targets[live[next + i]]);
    }
    std::string why = "batch " + std::to_string(b + 1) + "/" + std::to_string(sizes.size()) + " (" +
                      std::to_string(sizes[b]) + " of " + std::to_string(live.size()) + " targets; " +
                      (available ? "MemAvailable " + std::to_string(*available) + " MiB" : std::string("MemAvailable unknown")) +
                      ", evalMemoryMB " + std::to_string(eval_memory_mb) + ")";
    for (const auto& t : batch) {
      events.emit(t.target.node, protocol::Phase::eval, protocol::Status::progress, why,
                  {{"batch", b + 1}, {"batches", sizes.size()}});
    }
    work(batch);
    for (std::size_t i = 0; i < sizes[b]; ++i) {
      targets[live[next + i]] = std::move(batch[i]);
    }
    next += sizes[b];
  }
}

// Runs `work` on the batch's targets split among `workers` groups (protocol::eval_worker_sizes),
// all at once, each on its own thread: a group that evaluates faster is built and delivered while
// the others still evaluate. The targets come back in their order; the first exception a group's
// work throws is rethrown once every group has ended.
void in_groups_at_once(std::vector<TargetState>& batch, std::size_t workers,
                       const std::function<void(std::vector<TargetState>&, std::size_t groups)>& work, EventWriter& events) {
  auto sizes = protocol::eval_worker_sizes(batch.size(), workers);
  if (sizes.size() <= 1) {
    work(batch, 1);
    return;
  }
  std::vector<std::vector<TargetState>> groups;
  std::size_t next = 0;
  for (std::size_t g = 0; g < sizes.size(); ++g) {
    auto first = batch.begin() + static_cast<std::ptrdiff_t>(next);
    groups.emplace_back(std::make_move_iterator(first), std::make_move_iterator(first + static_cast<std::ptrdiff_t>(sizes[g])));
    next += sizes[g];
    for (const auto& t : groups.back()) {
      events.emit(t.target.node, protocol::Phase::eval, protocol::Status::progress,
                  "evaluator " + std::to_string(g + 1) + " of " + std::to_string(sizes.size()) + " (" +
                      std::to_string(sizes[g]) + " of " + std::to_string(batch.size()) + " targets)",
                  {{"worker", g + 1}, {"workers", sizes.size()}});
    }
  }
  std::vector<std::exception_ptr> failures(groups.size());
  {
    std::vector<std::jthread> threads;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      threads.emplace_back([&, g] {
        try {
          work(groups[g], groups.size());
        } catch (...) {
          failures[g] = std::current_exception();
        }
      });
    }
  }
  batch.clear();
  for (auto& group : groups) {
    std::move(group.begin(), group.end(), std::back_inserter(batch));
  }
  for (const auto& failure : failures) {
    if (failure) {
      std::rethrow_exception(failure);
    }
  }
}

// The job's work directory holds the pinned known_hosts files and the sockets of the
// connections the probes leave open for sharing: when the job ends, however it ends, those
// connections are closed (they would linger until idle otherwise) and the directory removed.
class JobWorkDir {
public:
  JobWorkDir(const std::filesystem::path& dir, const std::vector<TargetState>& targets) : m_dir(dir), m_targets(targets) {}
  JobWorkDir(const JobWorkDir&) = delete;
  JobWorkDir& operator=(const JobWorkDir&) = delete;
  ~JobWorkDir() {
    for (const auto& t : m_targets) {
      if (t.target.mode == protocol::TargetMode::delegate) {
        try {
          make_target_ssh(t.target, m_dir).stop_sharing();
        } catch (const std::exception&) {
          // Closes by itself once idle.
        }
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }

private:
  const std::filesystem::path& m_dir;
  const std::vector<TargetState>& m_targets;
};

}  // namespace

std::filesystem::path default_state_dir_for(uid_t uid, const std::filesystem::path& home,
                                            std::string_view xdg_state_home) {
  const std::filesystem::path system_dir = "/var/lib/fleet";
  struct stat owner {};
  if (uid == 0 || (::stat(system_dir.c_str(), &owner) == 0 && S_ISDIR(owner.st_mode) && owner.st_uid == uid)) {
    return system_dir;
  }
  // The XDG spec says to ignore a relative XDG_STATE_HOME.
  const std::filesystem::path xdg(xdg_state_home);
  if (xdg.is_absolute()) {
    return xdg / "fleet-builder";
  }
  if (!home.is_absolute()) {
    // Anything else would put a deploy user's sources and GC roots where every user can write
    // (a HOME-less agent once used /tmp/.local/state).
    throw ConfigError("user " + std::to_string(uid) + " has no home directory for fleet-builder's state (HOME is '" +
                      home.string() +
                      "'); give the user a home directory in its passwd entry, or run fleet-builder with --state-dir");
  }
  return home / ".local/state" / "fleet-builder";
}

std::filesystem::path default_state_dir() {
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  std::string home_dir = home != nullptr ? home : "";
  if (home_dir.empty()) {
    std::vector<char> buffer(16384);
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
      home_dir = entry.pw_dir;
    }
  }
  return default_state_dir_for(geteuid(), home_dir, state != nullptr ? state : "");
}

int run_build(std::istream& job_input, const AgentPaths& paths, EventWriter& events) {
  auto job = protocol::parse_build_job(protocol::read_json_document(job_input, k_max_job_bytes, "the job on stdin"));
  std::vector<TargetState> targets;
  for (const auto& target : job.targets) {
    targets.push_back({target, "", "", false, {}, {}, {}});
  }
  const SourceStore store(paths.state_dir);
  auto fail_all = [&](const std::string& why) {
    for (auto& t : targets) {
      events.emit(t.target.node, protocol::Phase::unpack, protocol::Status::fail, why);
    }
    return 1;
  };
  if (!store.holds(job.source_hash) && !std::filesystem::is_directory(store.tree(job.source_hash))) {
    return fail_all("source " + job.source_hash + " was not received on this host");
  }
  auto work_dir = paths.run_dir(job.run_id);
  std::filesystem::create_directories(work_dir);
  JobWorkDir cleanup{work_dir, targets};
  NixCli nix(job.nix_options);
  // Only builds go to remote builders: evaluations and copies stay on this node.
  const BuildOptions remote = build_options(job.nix_options, job.remote_builders);
  const NixCli build_nix(remote.nix_options);
  DeliveryLimits limits{job.timeouts, job.retries};
  std::chrono::seconds build_timeout{job.timeouts.build};
  // The source unpacks and goes into the nix store while the targets are probed: both wait on
  // other machines or disks. (The unpack's brief chdir() is harmless to the probes: their paths
  // are all absolute.)
  std::optional<HeldTree> held;
  std::string flake_ref;
  auto unpacking = std::async(std::launch::async, [&] {
    held.emplace(store.ensure_tree(job.source_hash));
    flake_ref = add_flake_to_store(held->flake_dir(job.flake), nix, work_dir / "source", build_timeout);
  });
  probe_targets(targets, work_dir, events, limits);
  try {
    unpacking.get();
  } catch (const Error& e) {
    return fail_all(e.what());  // each says which source and where
  } catch (const std::system_error& e) {
    return fail_all("cannot unpack source " + job.source_hash + ": " + e.what());
  }
  const std::filesystem::path& source = held->root();
  secrets::attach_bundles(targets, source, events);
  // Self-building targets are built like the others and activated here, through the same
  // supervisor: nixos-rebuild would skip the hooks, checks, confirmation and rollback.
  Deliverer deliverer(nix, paths.state_dir, work_dir, events, limits, RunIdentity{job.run_id, job.deployer});
  const std::size_t workers = std::min(static_cast<std::size_t>(job.eval_workers), usable_cpus());
  build_in_batches(targets, job.eval_memory_mb, [&](std::vector<TargetState>& batch) {
    in_groups_at_once(batch, workers, [&](std::vector<TargetState>& group, std::size_t groups) {
      // The agent's builds and deliveries at once are shared among the batch's groups.
      auto share = [groups](int at_once) { return std::max<std::size_t>(1, static_cast<std::size_t>(at_once) / groups); };
      TargetPipeline pipeline({
          {share(protocol::k_agent_builds_at_once),
           [&](TargetState& t) {
             for (const auto& why : remote.left_out) {
               events.emit(t.target.node, protocol::Phase::build, protocol::Status::progress, why);
             }
             build_target(t, build_nix, paths.roots(), events, build_timeout);
           }},
          {share(protocol::k_agent_deliveries_at_once), [&](TargetState& t) { deliverer.deliver(t); }},
      });
      evaluate_targets(group, flake_ref, job.inventory, nix, events, build_timeout,
                       [&](TargetState& t) { pipeline.start(t); });
      pipeline.finish();
    }, events);
  }, events);

  auto failed = [](const TargetState& t) { return t.failed; };
  return std::none_of(targets.begin(), targets.end(), failed) ? 0 : 1;
}

}  // namespace fleet::builder
