// SPDX-License-Identifier: MIT
#include "coordinator/run/run_orchestrator.hpp"

#include "coordinator/run/location_link.hpp"
#include "uploader/base/error.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <set>

namespace fleet::coordinator {
namespace {

namespace asio = boost::asio;
using protocol::Event;
using protocol::Phase;
using protocol::Status;

constexpr std::chrono::milliseconds k_tick{250};
constexpr std::size_t k_stderr_tail_bytes = 4096;

// The phase whose success means a target is done: activation, except for `build`, where a
// delegated target is done once its closure is on it.
Phase final_phase(const protocol::JobTarget& target) {
  if (target.action == "build" && target.mode == protocol::TargetMode::delegate) {
    return Phase::copy;
  }
  return Phase::activate;
}

std::string exit_description(const ssh::ExitStatus& status) {
  return status.signal.empty() ? "exit status " + std::to_string(status.code) : "signal " + status.signal;
}

// One execution of a plan. State below is touched only on the io_context thread, except each
// LocationRun::link, which only its pool task uses.
class Execution {
public:
  Execution(const RunInputs& inputs, RunRecorder& recorder, ProgressView& view)
      : m_inputs(inputs), m_recorder(recorder), m_view(view), m_pool(std::max<std::size_t>(1, inputs.jobs)),
        m_guard(asio::make_work_guard(m_io)), m_timer(m_io), m_runs(inputs.locations.size()),
        m_pending_connects(inputs.locations.size()) {}

  void run() {
    for (std::size_t i = 0; i < m_runs.size(); ++i) {
      m_runs[i].link = std::make_unique<LocationLink>(m_inputs.locations[i], m_inputs.ssh);
      connect(i);
    }
    maybe_finish();
    tick();
    m_io.run();
    m_pool.join();
  }

private:
  struct LocationRun {
    std::unique_ptr<LocationLink> link;
    std::set<std::string> finished;  // nodes whose final phase succeeded
    std::set<std::string> failed;    // nodes that reported a failure
    std::string stderr_tail;
  };

  const BuildLocation& location(std::size_t i) const { return m_inputs.locations[i]; }

  void emit(const std::string& node, Phase phase, Status status, const std::string& msg) {
    deliver(Event{protocol::now_seconds(), node, phase, status, msg, nlohmann::json::object()});
  }

  void deliver(const Event& event) {
    m_recorder.on_event(event);
    m_view.on_event(event);
  }

  // Fails every node of location `i` that has not already finished or failed.
  void fail_remaining(std::size_t i, Phase phase, const std::string& why) {
    for (const auto& target : location(i).targets) {
      auto& run = m_runs[i];
      if (!run.failed.count(target.node) && !run.finished.count(target.node)) {
        run.failed.insert(target.node);
        emit(target.node, phase, Status::fail, why);
      }
    }
  }

  // Stage 1: every location is connected to (and so probed) before any upload or build.
  void connect(std::size_t i) {
    for (const auto& target : location(i).targets) {
      if (!location(i).is_builder) {
        emit(target.node, Phase::probe, Status::start, "connecting to " + target.node);
      }
    }
    asio::post(m_pool, [this, i] {
      std::string error;
      try {
        m_runs[i].link->connect([this, i](const std::string& note) {
          asio::post(m_io, [this, i, note] { for (const auto& t : location(i).targets) { emit(t.node, Phase::probe, Status::progress, note); } });
        });
      } catch (const std::exception& e) {
        error = e.what();
      }
      asio::post(m_io, [this, i, error] { connected(i, error); });
    });
  }

  void connected(std::size_t i, const std::string& error) {
    --m_pending_connects;
    if (!error.empty()) {
      if (location(i).is_builder) {
        fail_remaining(i, Phase::upload, "cannot reach build node " + location(i).name + ": " + error);
      } else {
        fail_remaining(i, Phase::probe, error);
      }
    } else if (!location(i).is_builder) {
      for (const auto& target : location(i).targets) {
        emit(target.node, Phase::probe, Status::ok, "reachable, host key verified");
      }
    }
    if (m_pending_connects == 0) {
      for (std::size_t j = 0; j < m_runs.size(); ++j) {
        if (m_runs[j].failed.size() < location(j).targets.size()) {
          start_job(j);
        }
      }
    }
    maybe_finish();
  }

  // Stage 2, on the pool: upload, then the build job, relaying each event as it arrives.
  void start_job(std::size_t i) {
    ++m_pending_jobs;
    for (const auto& target : location(i).targets) {
      emit(target.node, Phase::upload, Status::start, "sending the source to " + location(i).name);
    }
    asio::post(m_pool, [this, i] {
      LocationLink& link = *m_runs[i].link;
      try {
        TransferRecord transfer = link.upload(*m_inputs.tarball);
        asio::post(m_io, [this, i, transfer] { uploaded(i, transfer); });
        protocol::BuildJob job;
        job.run_id = m_inputs.run_id;
        job.source_hash = m_inputs.tarball->content_hash;
        job.flake = m_inputs.flake;
        job.nix_options = m_inputs.nix_options;
        job.targets = location(i).targets;
        auto status = link.run_job(
            job, [this, i](std::string_view line) { asio::post(m_io, [this, i, l = std::string(line)] { on_line(i, l); }); },
            [this, i](std::string_view line) { asio::post(m_io, [this, i, l = std::string(line)] { on_stderr(i, l); }); });
        asio::post(m_io, [this, i, status] { job_done(i, "the agent on " + location(i).name + " ended with " + exit_description(status)); });
      } catch (const std::exception& e) {
        asio::post(m_io, [this, i, error = std::string(e.what())] { job_done(i, error); });
      }
    });
  }

  void uploaded(std::size_t i, const TransferRecord& transfer) {
    m_recorder.add_transfer(transfer);
    std::string what = transfer.skipped ? location(i).name + " already holds this source"
                                        : std::to_string(transfer.bytes) + " bytes sent to " + location(i).name;
    for (const auto& target : location(i).targets) {
      emit(target.node, Phase::upload, Status::ok, what);
    }
  }

  // Agent output is hostile input: only well-formed events about this location's nodes count.
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
    auto& run = m_runs[i];
    if (run.failed.count(event.node)) {
      return;
    }
    deliver(event);
    if (event.status == Status::fail) {
      run.failed.insert(event.node);
    } else if (event.status == Status::ok && event.phase == final_phase(*target)) {
      run.finished.insert(event.node);
    }
  }

  void on_stderr(std::size_t i, const std::string& line) {
    auto& tail = m_runs[i].stderr_tail;
    tail += line + "\n";
    if (tail.size() > k_stderr_tail_bytes) {
      tail.erase(0, tail.size() - k_stderr_tail_bytes);
    }
  }

  void job_done(std::size_t i, const std::string& ending) {
    --m_pending_jobs;
    auto& run = m_runs[i];
    for (const auto& node : run.finished) {
      if (!run.failed.count(node)) {
        m_recorder.mark_ok(node);
      }
    }
    std::string tail = run.stderr_tail.empty() ? "" : ":\n" + run.stderr_tail;
    fail_remaining(i, Phase::build, ending + " before finishing this node" + tail);
    maybe_finish();
  }

  void maybe_finish() {
    if (m_pending_connects == 0 && m_pending_jobs == 0) {
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
  asio::executor_work_guard<asio::io_context::executor_type> m_guard;
  asio::steady_timer m_timer;
  std::vector<LocationRun> m_runs;
  std::size_t m_pending_connects;
  std::size_t m_pending_jobs = 0;
};

}  // namespace

RunOrchestrator::RunOrchestrator(RunInputs inputs, RunRecorder& recorder, ProgressView& view)
    : m_inputs(std::move(inputs)), m_recorder(recorder), m_view(view) {}

void RunOrchestrator::run() {
  Execution(m_inputs, m_recorder, m_view).run();
}

}  // namespace fleet::coordinator
