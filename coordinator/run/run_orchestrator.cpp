// SPDX-License-Identifier: MIT
#include "coordinator/run/run_orchestrator.hpp"

#include "coordinator/run/agent_check.hpp"
#include "coordinator/run/failover.hpp"
#include "coordinator/run/flake_inputs.hpp"
#include "uploader/base/error.hpp"

#include <algorithm>
#include <cmath>

namespace fleet::coordinator {
namespace {

using protocol::Phase;
using protocol::Status;

}  // namespace

protocol::Phase final_phase(const protocol::JobTarget& target) {
  if (!protocol::activates(target.action) && target.mode == protocol::TargetMode::delegate) {
    return Phase::copy;
  }
  return Phase::activate;
}

RunOrchestrator::RunOrchestrator(RunInputs inputs, AgentLinkFactory links, NodeTracker& tracker, RunRecorder& recorder,
                                 ProgressView& view)
    : m_inputs(std::move(inputs)), m_links(std::move(links)), m_loop(m_inputs.jobs, [&view](double now) { view.tick(now); }),
      m_state{m_loop, tracker, recorder, view, {}}, m_feed(m_state) {
  m_outcome.source_hash = m_inputs.tarball->content_hash;
}

RunOutcome RunOrchestrator::run() {
  if (!m_inputs.repack_with_update && skip(m_outcome.source_hash)) {
    return m_outcome;
  }
  for (const auto& location : m_inputs.locations) {
    add_location(location, true);
  }
  for (std::size_t i = 0; i < m_state.runs.size(); ++i) {
    connect(i);
  }
  m_loop.run();
  return m_outcome;
}

std::size_t RunOrchestrator::add_location(const BuildLocation& location, bool assign) {
  auto run = std::make_unique<LocationRun>();
  run->location = location;
  run->link = m_links(location);
  m_state.runs.push_back(std::move(run));
  const std::size_t i = m_state.runs.size() - 1;
  // A moved node is assigned by NodeTracker::move, which records the move.
  if (assign) {
    for (const auto& target : location.targets) {
      m_state.tracker.assign(target.node, i, final_phase(target));
    }
  }
  return i;
}

bool RunOrchestrator::skip(const std::string& hash) {
  m_outcome.skipped = m_inputs.skip_reason ? m_inputs.skip_reason(hash) : "";
  return !m_outcome.skipped.empty();
}

// Stage 1: every location is reached and its agent checked before anything is sent or built.
void RunOrchestrator::connect(std::size_t i) {
  ++m_connecting;
  if (!location(i).is_builder) {
    m_state.tell_open(i, Phase::probe, Status::start, "connecting to " + location(i).name);
  }
  AgentLink* link = m_state.runs[i]->link.get();
  m_loop.offload(RunLoop::Pool::jobs, [this, i, link, name = location(i).name]() -> RunLoop::Continuation {
    std::string unusable;  // how the location failed, for failover's reasons
    std::string error;
    try {
      unusable = "is unreachable";
      link->connect([this, i](const std::string& note) {
        m_loop.post([this, i, note] { m_state.tell_open(i, Phase::probe, Status::progress, note); });
      });
      unusable = "cannot be used";
      check_agent_version(link->version(), name);
    } catch (const Error& e) {
      error = e.what();
    }
    return [this, i, unusable, error] { connected(i, error.empty() ? "" : unusable, error); };
  });
}

void RunOrchestrator::connected(std::size_t i, const std::string& unusable, const std::string& error) {
  --m_connecting;
  auto& run = *m_state.runs[i];
  if (!error.empty()) {
    if (!fail_over(i, Phase::upload, unusable + ": " + error)) {
      m_state.fail_open(i, location(i).is_builder ? Phase::upload : Phase::probe,
                        location(i).is_builder ? "cannot reach build node " + location(i).name + ": " + error : error);
    }
  } else {
    run.reachable = true;
    if (!location(i).is_builder) {
      m_state.tell_open(i, Phase::probe, Status::ok, "reachable, host key verified");
    }
    if (m_started_jobs) {
      start_job(i);
    } else if (m_round) {
      m_round->need(i);
    }
  }
  if (m_connecting == 0 && !m_round && !m_updating) {
    all_connected();
  }
}

void RunOrchestrator::all_connected() {
  if (!m_inputs.repack_with_update) {
    share_source(*m_inputs.tarball);
    return;
  }
  for (std::size_t i = 0; i < m_state.runs.size(); ++i) {
    if (m_state.runs[i]->reachable) {
      update_inputs(i);
      return;
    }
  }
}

// Stage 1b (--update-inputs): the source goes to location `i`, whose agent runs `nix flake
// update` on it; the source repacked with the new lock is what goes round.
void RunOrchestrator::update_inputs(std::size_t i) {
  m_updating = true;
  AgentLink* link = m_state.runs[i]->link.get();
  const std::string name = location(i).name;
  m_loop.offload(RunLoop::Pool::jobs, [this, link, name]() -> RunLoop::Continuation {
    try {
      auto update = update_inputs_on(*link, *m_inputs.tarball, m_inputs.earlier_tar, m_inputs.job.flake,
                                     m_inputs.job.nix_options, [this, name](const TransferRecord& sent) {
                                       m_loop.post([this, name, sent] { sent_for_update(name, sent); });
                                     });
      return [this, name, update] { inputs_updated(name, update); };
    } catch (const Error& e) {
      return [this, error = std::string(e.what())] { fail_everything(Phase::eval, "--update-inputs: " + error); };
    }
  });
}

void RunOrchestrator::sent_for_update(const std::string& name, const TransferRecord& sent) {
  m_state.recorder.add_transfer(sent);
  m_state.view.on_message("updating flake inputs on " + name +
                          (sent.skipped ? " (it already holds the source)" : " (" + std::to_string(sent.bytes) + " bytes sent)"));
}

void RunOrchestrator::inputs_updated(const std::string& name, const InputUpdate& update) {
  try {
    m_updated = m_inputs.repack_with_update(update);
  } catch (const Error& e) {
    fail_everything(Phase::eval, "--update-inputs: " + std::string(e.what()));
    return;
  }
  m_outcome.flake_lock = update.flake_lock;
  m_outcome.source_hash = m_updated->content_hash;
  m_state.view.on_message("inputs updated on " + name + " (source now " + m_outcome.source_hash.substr(0, 12) + ")" +
                          (update.log.empty() ? "" : ":\n" + update.log));
  if (!skip(m_outcome.source_hash)) {
    share_source(*m_updated);
  }
}

void RunOrchestrator::fail_everything(Phase phase, const std::string& why) {
  for (std::size_t i = 0; i < m_state.runs.size(); ++i) {
    m_state.fail_open(i, phase, why);
  }
}

// Stage 2: the source reaches every reachable location, from the laptop once, then node to node.
void RunOrchestrator::share_source(const tarball::PackedTarball& source) {
  m_round = std::make_unique<SourceRound>(
      m_state, transfer::HeldSource(source.content_hash, std::nullopt, source.compressed), m_inputs.earlier_tar,
      [this](std::size_t i, const std::string& error) {
        if (!fail_over(i, Phase::upload, "could not receive the source: " + error)) {
          m_state.fail_open(i, Phase::upload, "sending the source to " + location(i).name + " failed: " + error);
        }
      },
      [this] { start_jobs_when_shared(); });
  for (std::size_t i = 0; i < m_state.runs.size(); ++i) {
    if (m_state.runs[i]->reachable) {
      m_round->need(i);
    }
  }
  start_jobs_when_shared();
}

void RunOrchestrator::start_jobs_when_shared() {
  if (m_started_jobs || !m_round->done()) {
    return;
  }
  m_started_jobs = true;
  for (std::size_t i = 0; i < m_state.runs.size(); ++i) {
    if (m_state.runs[i]->reachable && !m_state.runs[i]->started && m_round->holds(i)) {
      start_job(i);
    }
  }
}

// The run's other builders, as this laptop reached them (the host key it verified pinned), that
// location i's nix may hand builds to: a builder not reached in this run is not vouched for.
std::vector<protocol::RemoteBuilder> RunOrchestrator::remote_builders_for(std::size_t i) const {
  std::vector<protocol::RemoteBuilder> builders;
  const auto& name = location(i).name;
  for (std::size_t j = 0; j < m_state.runs.size(); ++j) {
    const auto& other = *m_state.runs[j];
    if (!other.location.is_builder || !other.reachable || !other.link || other.location.name == name ||
        builders.size() >= protocol::k_max_remote_builders) {
      continue;
    }
    if (std::any_of(builders.begin(), builders.end(), [&](const auto& b) { return b.name == other.location.name; })) {
      continue;  // a second job on that builder
    }
    const auto address = other.link->address();
    builders.push_back({other.location.name, address.host, address.user, address.port, address.host_key,
                        other.location.systems, other.location.max_jobs,
                        std::max(1, static_cast<int>(std::lround(other.location.speed)))});
  }
  return builders;
}

// Stage 3: the build job, each event relayed as it arrives. A location that joined after the
// source went round (failover) gets it from the laptop first: every holder is busy by now.
void RunOrchestrator::start_job(std::size_t i) {
  auto& run = *m_state.runs[i];
  run.started = true;
  std::vector<protocol::JobTarget> targets;
  for (const auto& target : run.location.targets) {
    if (m_state.tracker.open_at(target.node, i)) {
      targets.push_back(target);
    }
  }
  if (targets.empty()) {
    return;
  }
  const bool needs_source = !m_round->holds(i);
  if (needs_source) {
    m_state.tell_open(i, Phase::upload, Status::start, "sending the source to " + location(i).name + " from the laptop");
  }
  JobSource source = m_inputs.job;
  source.source_hash = m_outcome.source_hash;
  // A second job on the same host in this run needs its own work directory there.
  const std::string suffix = i < m_inputs.locations.size() ? "" : "-" + std::to_string(i);
  auto job = make_build_job(source, run.location, std::move(targets), suffix);
  if (source.remote_builders && run.location.is_builder) {
    job.remote_builders = remote_builders_for(i);
  }
  AgentLink* link = run.link.get();
  m_loop.offload(RunLoop::Pool::jobs, [this, i, link, job, needs_source, name = location(i).name]() -> RunLoop::Continuation {
    try {
      if (needs_source) {
        auto sent = m_round->upload_now(*link, "moved here after the source went round, so sent from the laptop");
        m_loop.post([this, i, sent] { m_round->arrived(i, sent); });
      }
      auto status = link->run_job(
          job, [this, i](std::string_view line) { m_loop.post([this, i, l = std::string(line)] { m_feed.on_line(i, l); }); },
          [this, i](std::string_view line) { m_loop.post([this, i, l = std::string(line)] { m_feed.on_stderr(i, l); }); });
      // Exit 0 and 1 are the agent's own verdicts; anything else means it did not finish its job.
      const bool died = !status.signal.empty() || (status.code != 0 && status.code != 1);
      return [this, i, status, died, name] { job_done(i, "the agent on " + name + " ended with " + ssh::describe(status), died); };
    } catch (const Error& e) {
      return [this, i, error = std::string(e.what())] { job_done(i, error, true); };
    }
  });
}

void RunOrchestrator::job_done(std::size_t i, const std::string& ending, bool died) {
  auto open = m_state.tracker.job_ended(i, protocol::now_seconds());
  if (open.empty() ||
      m_feed.reattach(i, open, [this, i](const std::string& end) { job_done(i, end, false); })) {
    return;  // each reattachment ends with job_done again
  }
  if (!m_state.runs[i]->reattached.empty()) {
    m_state.fail_open(i, Phase::activate, ending);  // what the reattachment learnt, or could not
  } else if (!died || !fail_over(i, Phase::build, "died (" + ending + ")")) {
    m_state.fail_open(i, Phase::build, ending + " before finishing this node" + m_feed.stderr_tail(i));
  }
}

// Builder `i` is unavailable (`why`): its open nodes are re-planned around every builder lost
// so far. Returns false when failover is off (no config), leaving the nodes to the caller.
bool RunOrchestrator::fail_over(std::size_t i, Phase phase, const std::string& why) {
  const BuildLocation& from = location(i);
  if (m_inputs.config == nullptr || !from.is_builder) {
    return false;
  }
  m_unavailable[from.name] = why;
  std::vector<std::string> nodes;
  for (const auto& target : from.targets) {
    if (m_state.tracker.open_at(target.node, i)) {
      nodes.push_back(target.node);
    }
  }
  if (nodes.empty()) {
    return true;
  }
  FailoverPlan plan;
  try {
    plan = plan_failover(*m_inputs.config, nodes, m_unavailable, m_inputs.action_override);
  } catch (const Error& e) {
    for (const auto& node : nodes) {
      m_state.emit(i, node, phase, Status::fail, why + "; re-planning failed: " + e.what());
    }
    return true;
  }
  // The planner's reason names each unavailable builder and why.
  for (const auto& [node, reason] : plan.stranded) {
    m_state.emit(i, node, phase, Status::fail, reason);
  }
  std::vector<std::size_t> added;
  for (const auto& location : plan.locations) {
    auto [to, is_new] = place(location);
    for (const auto& target : location.targets) {
      const std::string& node = target.node;
      std::string reason = from.name + " " + why + "; " + plan.reasons.at(node);
      m_state.emit(i, node, phase, Status::progress, "moving from " + from.name + " to " + plan.moved_to.at(node) + ": " + reason);
      m_state.tracker.move(node, to, final_phase(target), {from.name, plan.moved_to.at(node), reason},
                           protocol::now_seconds());
    }
    if (is_new) {
      added.push_back(to);
    }
  }
  for (auto to : added) {
    connect(to);
  }
  return true;
}

// A moved node's new location: merged into a reachable builder whose job has not started yet,
// else a new location of its own (connected, then started, once the first stage is over).
std::pair<std::size_t, bool> RunOrchestrator::place(const BuildLocation& location) {
  for (std::size_t j = 0; j < m_state.runs.size(); ++j) {
    auto& run = *m_state.runs[j];
    if (!m_started_jobs && run.reachable && !run.started && run.location.is_builder == location.is_builder &&
        run.location.name == location.name) {
      run.location.targets.insert(run.location.targets.end(), location.targets.begin(), location.targets.end());
      return {j, false};
    }
  }
  return {add_location(location, false), true};
}

}  // namespace fleet::coordinator
