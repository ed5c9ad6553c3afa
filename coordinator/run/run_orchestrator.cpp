// SPDX-License-Identifier: MIT
#include "coordinator/run/run_orchestrator.hpp"

#include "coordinator/run/failover.hpp"
#include "coordinator/run/location_link.hpp"
#include "coordinator/run/source_distribution.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/ssh/ssh_session.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <map>
#include <memory>
#include <set>
#include <thread>

namespace fleet::coordinator {
namespace {

namespace asio = boost::asio;
using protocol::Event;
using protocol::Phase;
using protocol::Status;

constexpr std::chrono::milliseconds k_tick{250};
constexpr std::size_t k_stderr_tail_bytes = 4096;
constexpr std::size_t k_confirm_threads = 8;
constexpr std::chrono::seconds k_confirm_retry{2};
constexpr std::chrono::seconds k_reattach_grace{300};
// How many locations one node sends the source on to: enough that a copy reaches 40 locations
// in three hops, few enough that one node's uplink is not the bottleneck.
constexpr std::size_t k_relay_fanout = 3;

std::string short_hash(const std::string& hash) { return hash.substr(0, 12); }

std::string describe_transfer(const TransferRecord& transfer) {
  if (transfer.skipped) {
    return transfer.to + " already holds this source";
  }
  return transfer.to + " got the source from " + transfer.from + ": " + std::to_string(transfer.bytes) + " bytes" +
         (transfer.base.empty() ? "" : " (delta against " + short_hash(transfer.base) + ")");
}

// The phase whose success means a target is done: activation, except for `build`, where a
// delegated target is done once its closure is on it.
Phase final_phase(const protocol::JobTarget& target) {
  if (!protocol::activates(target.action) && target.mode == protocol::TargetMode::delegate) {
    return Phase::copy;
  }
  return Phase::activate;
}

// One execution of a plan. State below is touched only on the io_context thread; a pool task
// uses only its own LocationRun's link and the job built for it before it was posted.
class Execution {
public:
  Execution(const RunInputs& inputs, RunRecorder& recorder, ProgressView& view)
      : m_inputs(inputs), m_recorder(recorder), m_view(view), m_pool(std::max<std::size_t>(1, inputs.jobs)),
        m_guard(asio::make_work_guard(m_io)), m_timer(m_io),
        m_payloads(transfer::HeldSource(inputs.tarball->content_hash, std::nullopt, inputs.tarball->compressed),
                   inputs.earlier_tar) {}

  void run() {
    for (const auto& location : m_inputs.locations) {
      add_run(location);
    }
    for (std::size_t i = 0; i < m_runs.size(); ++i) {
      connect(i);
    }
    maybe_finish();
    tick();
    m_io.run();
    m_pool.join();
    m_confirm_pool.join();
  }

private:
  // An activation in progress on a self-building target, as its events announced it.
  struct ActivationTrack {
    std::string id;
    std::size_t events_seen = 0;  // of the activation's own events, for `attach --from`
    int confirm_timeout = 0;
  };

  struct LocationRun {
    BuildLocation location;
    std::unique_ptr<LocationLink> link;
    std::set<std::string> finished;  // nodes whose final phase succeeded
    std::set<std::string> failed;    // nodes that reported a failure or rolled back
    std::set<std::string> moved;     // nodes moved to another location
    std::map<std::string, ActivationTrack> activations;
    std::set<std::string> reattached;
    std::string stderr_tail;
    bool reachable = false;
    bool started = false;
  };

  const BuildLocation& location(std::size_t i) const { return m_runs[i]->location; }

  std::size_t add_run(const BuildLocation& location) {
    auto run = std::make_unique<LocationRun>();
    run->location = location;
    run->link = std::make_unique<LocationLink>(location, m_inputs.ssh);
    m_runs.push_back(std::move(run));
    return m_runs.size() - 1;
  }

  void emit(const std::string& node, Phase phase, Status status, const std::string& msg) {
    deliver(Event{protocol::now_seconds(), node, phase, status, msg, nlohmann::json::object()});
  }

  void deliver(const Event& event) {
    m_recorder.on_event(event);
    m_view.on_event(event);
  }

  bool open(const LocationRun& run, const std::string& node) const {
    return !run.failed.count(node) && !run.finished.count(node) && !run.moved.count(node);
  }

  // Fails every node of location `i` that has not already finished, failed or moved.
  void fail_remaining(std::size_t i, Phase phase, const std::string& why) {
    auto& run = *m_runs[i];
    for (const auto& target : run.location.targets) {
      if (open(run, target.node)) {
        run.failed.insert(target.node);
        emit(target.node, phase, Status::fail, why);
      }
    }
  }

  // Builder `i` is unavailable (`why`): its open nodes are re-planned around every builder lost
  // so far. Returns false when failover is off (no config), leaving the nodes to the caller.
  bool fail_over(std::size_t i, Phase phase, const std::string& why) {
    auto& run = *m_runs[i];
    if (m_inputs.config == nullptr || !run.location.is_builder) {
      return false;
    }
    m_unavailable[run.location.name] = why;
    std::vector<std::string> nodes;
    for (const auto& target : run.location.targets) {
      if (open(run, target.node)) {
        nodes.push_back(target.node);
        run.moved.insert(target.node);
      }
    }
    if (nodes.empty()) {
      return true;
    }
    FailoverPlan plan;
    try {
      plan = plan_failover(*m_inputs.config, nodes, m_unavailable, m_inputs.action_override);
    } catch (const std::exception& e) {
      for (const auto& node : nodes) {
        emit(node, phase, Status::fail, why + "; re-planning failed: " + e.what());
      }
      return true;
    }
    for (const auto& [node, reason] : plan.stranded) {
      emit(node, phase, Status::fail, run.location.name + " is unavailable (" + why + "); " + reason);
    }
    for (const auto& [node, to] : plan.moved_to) {
      std::string reason = run.location.name + " " + why + "; " + plan.reasons.at(node);
      emit(node, phase, Status::progress, "moving from " + run.location.name + " to " + to + ": " + reason);
      m_recorder.move(node, run.location.name, to, reason, protocol::now_seconds());
    }
    for (const auto& location : plan.locations) {
      place(location);
    }
    return true;
  }

  // A moved node's new location: merged into a reachable builder whose job has not started yet,
  // else a new location of its own (connected, then started, once the first stage is over).
  void place(const BuildLocation& location) {
    for (auto& run : m_runs) {
      if (!m_started_jobs && run->reachable && !run->started && run->location.is_builder == location.is_builder &&
          run->location.name == location.name) {
        run->location.targets.insert(run->location.targets.end(), location.targets.begin(), location.targets.end());
        return;
      }
    }
    connect(add_run(location));
  }

  // Stage 1: every location is connected to (and so probed) before any upload or build.
  void connect(std::size_t i) {
    ++m_pending;
    for (const auto& target : location(i).targets) {
      if (!location(i).is_builder) {
        emit(target.node, Phase::probe, Status::start, "connecting to " + target.node);
      }
    }
    LocationLink* link = m_runs[i]->link.get();
    asio::post(m_pool, [this, i, link] {
      std::string error;
      try {
        link->connect([this, i](const std::string& note) {
          asio::post(m_io, [this, i, note] { for (const auto& t : location(i).targets) { emit(t.node, Phase::probe, Status::progress, note); } });
        });
      } catch (const std::exception& e) {
        error = e.what();
      }
      asio::post(m_io, [this, i, error] { connected(i, error); });
    });
  }

  void connected(std::size_t i, const std::string& error) {
    --m_pending;
    auto& run = *m_runs[i];
    if (!error.empty()) {
      if (!fail_over(i, Phase::upload, "is unreachable: " + error)) {
        fail_remaining(i, location(i).is_builder ? Phase::upload : Phase::probe,
                       location(i).is_builder ? "cannot reach build node " + location(i).name + ": " + error : error);
      }
    } else {
      run.reachable = true;
      if (!location(i).is_builder) {
        for (const auto& target : location(i).targets) {
          emit(target.node, Phase::probe, Status::ok, "reachable, host key verified");
        }
      }
      if (m_started_jobs) {
        start_job(i);
      } else if (m_distributing) {
        m_distribution.need(i, location(i).is_builder);
        distribute();
      }
    }
    if (m_pending == 0 && !m_distributing) {
      m_distributing = true;
      for (std::size_t j = 0; j < m_runs.size(); ++j) {
        if (m_runs[j]->reachable) {
          m_distribution.need(j, location(j).is_builder);
        }
      }
      distribute();
    }
    maybe_finish();
  }

  // Stage 2: the source reaches every location, from the laptop once and then node to node.
  void distribute() {
    for (auto& step : m_distribution.next()) {
      if (step.from) {
        relay(*step.from, step.to);
      } else {
        upload(step.to.front(), step.note);
      }
    }
    if (m_distribution.done() && !m_started_jobs) {
      m_started_jobs = true;
      for (std::size_t j = 0; j < m_runs.size(); ++j) {
        if (m_runs[j]->reachable && !m_runs[j]->started && m_distribution.holds(j)) {
          start_job(j);
        }
      }
    }
  }

  void upload(std::size_t to, const std::string& note) {
    ++m_pending;
    for (const auto& target : location(to).targets) {
      emit(target.node, Phase::upload, Status::start, "sending the source to " + location(to).name + " from the laptop" +
                                                          (note.empty() ? "" : " (" + note + ")"));
    }
    LocationLink* link = m_runs[to]->link.get();
    asio::post(m_pool, [this, to, link, note] {
      try {
        TransferRecord transfer = link->upload(m_payloads);
        transfer.note = note;
        asio::post(m_io, [this, to, transfer] {
          --m_pending;
          arrived(to, transfer);
          maybe_finish();
        });
      } catch (const std::exception& e) {
        asio::post(m_io, [this, to, error = std::string(e.what())] {
          --m_pending;
          m_distribution.failed(to, std::nullopt, error);
          if (!fail_over(to, Phase::upload, "could not receive the source: " + error)) {
            fail_remaining(to, Phase::upload, "sending the source to " + location(to).name + " failed: " + error);
          }
          distribute();
          maybe_finish();
        });
      }
    });
  }

  void relay(std::size_t from, const std::vector<std::size_t>& to) {
    ++m_pending;
    transfer::RelayRequest request;
    request.timeout = location(from).run.timeouts.upload;
    std::map<std::string, std::size_t> by_name;
    for (auto j : to) {
      const auto& address = m_runs[j]->link->verified_target();
      // Each destination is named by its index: two locations may share a host name.
      const std::string name = "location-" + std::to_string(j);
      by_name[name] = j;
      request.destinations.push_back({name, address.host, address.user, address.port, address.pinned_host_key});
      for (const auto& target : location(j).targets) {
        emit(target.node, Phase::upload, Status::start, location(from).name + " sends the source to " + location(j).name);
      }
    }
    LocationLink* link = m_runs[from]->link.get();
    asio::post(m_pool, [this, from, link, request, by_name] {
      std::vector<transfer::RelayOutcome> outcomes;
      try {
        outcomes = link->relay(m_inputs.tarball->content_hash, request);
      } catch (const std::exception& e) {
        for (const auto& destination : request.destinations) {
          transfer::RelayOutcome failed;
          failed.to = destination.name;
          failed.error = e.what();
          outcomes.push_back(std::move(failed));
        }
      }
      asio::post(m_io, [this, from, outcomes, by_name] { relayed(from, outcomes, by_name); });
    });
  }

  void relayed(std::size_t from, const std::vector<transfer::RelayOutcome>& outcomes,
               const std::map<std::string, std::size_t>& by_name) {
    --m_pending;
    m_distribution.relay_ended(from);
    for (const auto& outcome : outcomes) {
      const std::size_t to = by_name.at(outcome.to);
      if (outcome.ok) {
        arrived(to, TransferRecord{location(from).name, location(to).name, outcome.bytes, outcome.had, outcome.base, ""});
      } else {
        m_distribution.failed(to, from, location(from).name + ": " + outcome.error);
        for (const auto& target : location(to).targets) {
          emit(target.node, Phase::upload, Status::progress,
               location(from).name + " could not send the source to " + location(to).name + " (" + outcome.error +
                   "); trying another source");
        }
      }
    }
    distribute();
    maybe_finish();
  }

  void arrived(std::size_t to, const TransferRecord& transfer) {
    m_recorder.add_transfer(transfer);
    m_distribution.received(to);
    std::string what = describe_transfer(transfer) + (transfer.note.empty() ? "" : "; " + transfer.note);
    for (const auto& target : location(to).targets) {
      if (open(*m_runs[to], target.node)) {
        emit(target.node, Phase::upload, Status::ok, what);
      }
    }
    distribute();
  }

  // Stage 3, on the pool: the build job, relaying each event as it arrives (after a laptop
  // upload for a location that joined once the source had gone round).
  void start_job(std::size_t i) {
    auto& run = *m_runs[i];
    run.started = true;
    std::vector<protocol::JobTarget> targets;
    for (const auto& target : run.location.targets) {
      if (open(run, target.node)) {
        targets.push_back(target);
      }
    }
    if (targets.empty()) {
      return;
    }
    ++m_pending;
    // A location added after the source went round (failover) gets it from the laptop: every
    // node that holds it is busy with its own job by now.
    const bool needs_source = !m_distribution.holds(i);
    if (needs_source) {
      for (const auto& target : targets) {
        emit(target.node, Phase::upload, Status::start, "sending the source to " + location(i).name + " from the laptop");
      }
    }
    auto job = std::make_shared<protocol::BuildJob>();
    // A second job on the same host in this run needs its own work directory there.
    job->run_id = i < m_inputs.locations.size() ? m_inputs.run_id : m_inputs.run_id + "-" + std::to_string(i);
    job->source_hash = m_inputs.tarball->content_hash;
    job->flake = m_inputs.flake;
    job->nix_options = m_inputs.nix_options;
    job->targets = std::move(targets);
    job->eval_memory_mb = run.location.eval_memory_mb;
    const std::string name = run.location.name;
    LocationLink* link = run.link.get();
    asio::post(m_pool, [this, i, link, job, name, needs_source] {
      try {
        if (needs_source) {
          TransferRecord transfer = link->upload(m_payloads);
          transfer.note = "moved here after the source went round, so sent from the laptop";
          asio::post(m_io, [this, i, transfer] { arrived(i, transfer); });
        }
        auto status = link->run_job(
            *job, [this, i](std::string_view line) { asio::post(m_io, [this, i, l = std::string(line)] { on_line(i, l); }); },
            [this, i](std::string_view line) { asio::post(m_io, [this, i, l = std::string(line)] { on_stderr(i, l); }); });
        // Exit 0 and 1 are the agent's own verdicts; anything else means it did not finish its job.
        bool died = !status.signal.empty() || (status.code != 0 && status.code != 1);
        asio::post(m_io, [this, i, status, died, name] {
          job_done(i, "the agent on " + name + " ended with " + ssh::describe(status), died);
        });
      } catch (const std::exception& e) {
        asio::post(m_io, [this, i, error = std::string(e.what())] { job_done(i, error, true); });
      }
    });
  }

  // Agent output is hostile input: only well-formed events about this location's open nodes count.
  void on_line(std::size_t i, const std::string& line) {
    Event event;
    try {
      event = protocol::parse_event_line(line);
    } catch (const Error& e) {
      m_view.on_message("ignored output from " + location(i).name + ": " + e.what());
      return;
    }
    const protocol::JobTarget* target = nullptr;
    for (const auto& t : location(i).targets) {
      if (t.node == event.node) {
        target = &t;
      }
    }
    if (target == nullptr) {
      m_view.on_message("ignored an event from " + location(i).name + " about node '" + event.node + "', which it does not serve");
      return;
    }
    auto& run = *m_runs[i];
    // Events after a failure still count (a rollback follows a failed check); events about a
    // node that has moved to another builder do not.
    if (run.moved.count(event.node)) {
      return;
    }
    deliver(event);
    auto id = event.extra.find("activation");
    if (!location(i).is_builder && id != event.extra.end() && id->is_string()) {
      run.activations[event.node] = {id->get<std::string>(), 0, target->activation.confirm_timeout};
    } else if (auto track = run.activations.find(event.node); track != run.activations.end()) {
      ++track->second.events_seen;
    }
    if (event.status == Status::fail || (event.phase == Phase::rollback && event.status == Status::ok)) {
      run.failed.insert(event.node);
    } else if (event.status == Status::ok && event.phase == final_phase(*target)) {
      run.finished.insert(event.node);
    }
    auto confirm = event.extra.find("awaitConfirmation");
    if (confirm != event.extra.end() && confirm->is_string() && !location(i).is_builder) {
      confirm_activation(i, event.node, confirm->get<std::string>(), target->activation.confirm_timeout);
    }
  }

  // A self-building target waits for its deployer, the laptop, to get through to it over a new
  // connection before it keeps its new configuration. Runs on threads of its own: the job pool
  // may be busy for the whole run, and a late confirmation means a rollback.
  void confirm_activation(std::size_t i, const std::string& node, const std::string& id, int timeout) {
    // Copied here: m_runs may grow on this thread (failover) while the confirmation runs.
    ssh::SshTarget target = location(i).ssh;
    asio::post(m_confirm_pool, [this, target, node, id, timeout] {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{timeout};
      std::string outcome = "could not reach " + node + " again to confirm; it rolls back by itself";
      while (std::chrono::steady_clock::now() < deadline) {
        try {
          auto session = ssh::SshSession::connect(target, m_inputs.ssh);
          std::string err;
          auto channel = session->exec("fleet-builder confirm --id " + shell_quote(id),
                                       [&](std::string_view line) { err += std::string(line) + " "; });
          channel->send_eof();
          channel->read_all(64 * 1024);
          auto status = channel->wait_exit();
          outcome = status.code == 0 ? "confirmed over a new SSH connection" : "the target refused the confirmation: " + err;
          break;
        } catch (const std::exception& e) {
          outcome = std::string("confirming failed, retrying: ") + e.what();
          std::this_thread::sleep_for(k_confirm_retry);
        }
      }
      asio::post(m_io, [this, node, outcome] { emit(node, Phase::activate, Status::progress, outcome); });
    });
  }

  void on_stderr(std::size_t i, const std::string& line) {
    auto& tail = m_runs[i]->stderr_tail;
    tail += line + "\n";
    if (tail.size() > k_stderr_tail_bytes) {
      tail.erase(0, tail.size() - k_stderr_tail_bytes);
    }
  }

  void job_done(std::size_t i, const std::string& ending, bool died) {
    --m_pending;
    auto& run = *m_runs[i];
    // The new configuration may have taken the connection down while the target goes on by
    // itself (and may roll back): ask it again for the outcome instead of guessing.
    bool reattaching = false;
    for (const auto& [node, track] : run.activations) {
      if (open(run, node) && !run.reattached.count(node)) {
        run.reattached.insert(node);
        reattach(i, node, track);
        reattaching = true;
      }
    }
    for (const auto& node : run.finished) {
      if (!run.failed.count(node)) {
        m_recorder.mark_ok(node);
      }
    }
    if (reattaching) {
      maybe_finish();
      return;  // each reattachment ends with job_done again
    }
    std::string tail = run.stderr_tail.empty() ? "" : ":\n" + run.stderr_tail;
    if (!died || !fail_over(i, Phase::build, "died (" + ending + ")")) {
      fail_remaining(i, Phase::build, ending + " before finishing this node" + tail);
    }
    maybe_finish();
  }

  // Follows an activation again over a new session until its final event, retrying while the
  // target is unreachable, for as long as it may take to roll back.
  void reattach(std::size_t i, const std::string& node, const ActivationTrack& track) {
    ++m_pending;
    emit(node, Phase::activate, Status::progress, "connection lost during activation; reattaching to " + track.id);
    ssh::SshTarget target = location(i).ssh;
    asio::post(m_confirm_pool, [this, i, target, node, track] {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{track.confirm_timeout} + k_reattach_grace;
      std::string ending = "could not reach " + node + " again to learn how its activation ended";
      while (std::chrono::steady_clock::now() < deadline) {
        try {
          auto session = ssh::SshSession::connect(target, m_inputs.ssh);
          auto channel = session->exec("fleet-builder attach --id " + shell_quote(track.id) + " --from " +
                                       std::to_string(track.events_seen));
          channel->send_eof();
          while (auto line = channel->read_line()) {
            asio::post(m_io, [this, i, l = *line] { on_line(i, l); });
          }
          channel->wait_exit();
          ending = "the activation of " + node + " ended";
          break;
        } catch (const std::exception& e) {
          ending = std::string("reattaching failed: ") + e.what();
          std::this_thread::sleep_for(k_confirm_retry);
        }
      }
      asio::post(m_io, [this, i, ending] { job_done(i, ending, false); });
    });
  }

  void maybe_finish() {
    if (m_pending == 0) {
      m_timer.cancel();
      m_guard.reset();
    }
  }

  void tick() {
    m_view.tick(protocol::now_seconds());
    m_timer.expires_after(k_tick);
    m_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && m_guard.owns_work()) {
        tick();
      }
    });
  }

  const RunInputs& m_inputs;
  RunRecorder& m_recorder;
  ProgressView& m_view;
  asio::io_context m_io;
  asio::thread_pool m_pool;
  asio::thread_pool m_confirm_pool{k_confirm_threads};
  asio::executor_work_guard<asio::io_context::executor_type> m_guard;
  asio::steady_timer m_timer;
  std::vector<std::unique_ptr<LocationRun>> m_runs;
  std::map<std::string, std::string> m_unavailable;  // builder → why, for re-planning
  std::size_t m_pending = 0;  // connects, transfers and jobs under way
  SourceDistribution m_distribution{k_relay_fanout};
  transfer::PayloadCache m_payloads;
  bool m_distributing = false;
  bool m_started_jobs = false;
};

}  // namespace

RunOrchestrator::RunOrchestrator(RunInputs inputs, RunRecorder& recorder, ProgressView& view)
    : m_inputs(std::move(inputs)), m_recorder(recorder), m_view(view) {}

void RunOrchestrator::run() {
  Execution(m_inputs, m_recorder, m_view).run();
}

}  // namespace fleet::coordinator
