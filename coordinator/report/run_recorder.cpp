// SPDX-License-Identifier: MIT
#include "coordinator/report/run_recorder.hpp"

#include "uploader/base/error.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>

namespace fleet::coordinator {
namespace {

// A year of CPU time: more than any evaluation's, so a larger figure is not a measurement.
constexpr double k_max_eval_cpu_seconds = 365.0 * 24 * 3600;

// An eval event's "evalCpuSeconds", "evalPeakMiB" and "evalTargets", when all three are there and
// plausible; an agent's figures are input like any other, and a report keeps no nonsense.
std::optional<EvalUsage> eval_usage(const nlohmann::json& extra) {
  auto cpu = extra.find("evalCpuSeconds");
  auto peak = extra.find("evalPeakMiB");
  auto targets = extra.find("evalTargets");
  auto whole = [&](nlohmann::json::const_iterator value) {
    return value != extra.end() && value->is_number_integer() && value->get<std::int64_t>() >= 0;
  };
  if (cpu == extra.end() || !cpu->is_number() || !whole(peak) || !whole(targets)) {
    return std::nullopt;
  }
  const double seconds = cpu->get<double>();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > k_max_eval_cpu_seconds || *targets == 0) {
    return std::nullopt;
  }
  return EvalUsage{seconds, peak->get<std::uint64_t>(), targets->get<std::uint64_t>()};
}

// Agent clocks can be skewed or hostile: a duration is never negative or infinite.
double duration(double from, double to) {
  double seconds = to - from;
  return std::isfinite(seconds) && seconds > 0 ? seconds : 0;
}

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xc0U) == 0x80U;
}

// Cuts at a UTF-8 boundary so the report stays valid JSON text.
std::string cut_line(std::string line) {
  if (line.size() <= k_max_log_line) {
    return line;
  }
  std::size_t end = k_max_log_line;
  while (end > 0 && is_continuation_byte(line[end])) {
    --end;
  }
  line.resize(end);
  return line + "…";
}

// An error longer than k_max_error: its first line (cut like a log line) and as much of its end
// as fits, starting at a line where possible.
std::string cut_error(const std::string& message) {
  if (message.size() <= k_max_error) {
    return message;
  }
  const std::string head = cut_line(message.substr(0, message.find('\n')));
  const std::size_t room = k_max_error - std::min(k_max_error, head.size() + 8);
  std::size_t start = message.size() - room;
  if (auto line = message.find('\n', start); line != std::string::npos && line + 1 < message.size()) {
    start = line + 1;
  }
  while (start < message.size() && is_continuation_byte(message[start])) {
    ++start;
  }
  return head + "\n…\n" + message.substr(start);
}

}  // namespace

RunRecorder::RunRecorder(std::string run_id, std::vector<std::string> nodes, double started)
    : m_run_id(std::move(run_id)), m_started(started) {
  for (auto& name : nodes) {
    m_nodes.try_emplace(std::move(name));
  }
}

const RunRecorder::NodeRecord& RunRecorder::state(const std::string& name) const {
  auto it = m_nodes.find(name);
  if (it == m_nodes.end()) {
    throw InternalError("run recorder: node '" + name + "' is not part of run " + m_run_id);
  }
  return it->second;
}

RunRecorder::NodeRecord& RunRecorder::state(const std::string& name) {
  return const_cast<NodeRecord&>(std::as_const(*this).state(name));
}

const NodeOutcome& RunRecorder::node(const std::string& name) const { return state(name).outcome; }

void RunRecorder::add_error(NodeOutcome& outcome, const std::string& phase, const std::string& message) {
  std::string entry = phase + ": " + (message.empty() ? "failed" : cut_error(message));
  // The first failure stays on the first line; later ones (a failed rollback) follow it.
  outcome.error = outcome.error.empty() ? entry : outcome.error + "\n" + entry;
}

void RunRecorder::add_log_line(NodeOutcome& outcome, std::string line) {
  outcome.log_tail.push_back(cut_line(std::move(line)));
  if (outcome.log_tail.size() > k_log_tail_lines) {
    outcome.log_tail.erase(outcome.log_tail.begin(),
                           outcome.log_tail.begin() + static_cast<std::ptrdiff_t>(outcome.log_tail.size() - k_log_tail_lines));
  }
}

void RunRecorder::on_transition(const NodeTransition& transition) {
  auto it = m_nodes.find(transition.node);
  if (it == m_nodes.end()) {
    ++m_ignored_events;
    return;
  }
  NodeRecord& node = it->second;
  NodeOutcome& outcome = node.outcome;
  if (transition.event != nullptr) {
    if (m_listener) {
      m_listener(*transition.event);
    }
    fold_event(node, *transition.event);
  }
  if (transition.move != nullptr) {
    for (const auto& [phase, start] : node.open_phases) {
      outcome.phases.push_back({phase, duration(start, transition.ts), "fail"});
    }
    node.open_phases.clear();
    outcome.moves.push_back({transition.move->from, transition.move->to, cut_line(transition.move->reason)});
    outcome.built_on = transition.move->to;
  }
  // A node keeps its result ("skipped" at first) until it reaches an end.
  if (transition.state == NodeState::ok || transition.state == NodeState::failed ||
      transition.state == NodeState::rolled_back) {
    outcome.result = protocol::to_string(result_of(transition.state));
  }
  if (transition.state == NodeState::ok) {
    outcome.error.clear();
  }
}

void RunRecorder::fold_event(NodeRecord& node, const protocol::Event& event) {
  NodeOutcome& outcome = node.outcome;
  const std::string phase(protocol::to_string(event.phase));
  if (event.extra.is_object()) {
    auto text = [&](const char* key, std::string& field, std::size_t limit) {
      auto value = event.extra.find(key);
      if (value != event.extra.end() && value->is_string()) {
        field = value->get<std::string>().substr(0, limit);
      }
    };
    text("storePath", outcome.store_path, k_max_log_line);
    if (event.phase == protocol::Phase::activate) {
      text("previousPath", outcome.previous_path, k_max_log_line);
      text("closureDiff", outcome.closure_diff, k_max_closure_diff);
    }
    if (event.phase == protocol::Phase::eval) {
      if (auto usage = eval_usage(event.extra)) {
        outcome.evaluation = usage;
      }
    }
  }

  switch (event.status) {
  case protocol::Status::start:
    node.open_phases[phase] = event.ts;
    break;
  case protocol::Status::progress: {
    std::string_view text = event.msg;
    while (!text.empty()) {
      auto end = text.find('\n');
      add_log_line(outcome, std::string(text.substr(0, end)));
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
    break;
  }
  case protocol::Status::ok:
  case protocol::Status::fail: {
    bool ok = event.status == protocol::Status::ok;
    double seconds = 0;
    auto open = node.open_phases.find(phase);
    if (open != node.open_phases.end()) {
      seconds = duration(open->second, event.ts);
      node.open_phases.erase(open);
    }
    outcome.phases.push_back({phase, seconds, ok ? "ok" : "fail"});
    // A rollback is a failure of the deployment: the report says why it happened.
    if (!ok || (event.phase == protocol::Phase::rollback && !event.msg.empty())) {
      add_error(outcome, phase, event.msg);
    }
    break;
  }
  }
}

void RunRecorder::set_built_on(const std::string& node, const std::string& where) { state(node).outcome.built_on = where; }

void RunRecorder::add_transfer(TransferRecord transfer) { m_transfers.push_back(std::move(transfer)); }

RunReport RunRecorder::finish(std::string source_hash, std::string action, std::string config_file, double finished) {
  RunReport report;
  report.run_id = m_run_id;
  report.source_hash = std::move(source_hash);
  report.action = std::move(action);
  report.config_file = std::move(config_file);
  report.started = m_started;
  report.finished = finished;
  for (auto& [name, node] : m_nodes) {
    for (const auto& [phase, start] : node.open_phases) {
      node.outcome.phases.push_back({phase, duration(start, finished), "fail"});
    }
    node.open_phases.clear();
    report.nodes.emplace(name, node.outcome);
  }
  report.transfers = m_transfers;
  return report;
}

}  // namespace fleet::coordinator
