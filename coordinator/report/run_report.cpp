// SPDX-License-Identifier: MIT
#include "coordinator/report/run_report.hpp"

#include "uploader/base/error.hpp"

#include <cmath>
#include <ctime>
#include <numeric>

namespace fleet::coordinator {
namespace {

using nlohmann::json;

// Reports are compared and read by people: 12.3 reads better than 12.300000000000182.
double round_ms(double seconds) {
  if (!std::isfinite(seconds)) {
    return 0;
  }
  return std::round(seconds * 1000) / 1000;
}


// Reads optional fields of a report, naming the field's path when its type is wrong.
class Reader {
public:
  Reader(const json& object, std::string where) : m_object(object), m_where(std::move(where)) {
    if (!m_object.is_object()) {
      throw Error("run report: " + label() + " should be a JSON object, got " + std::string(m_object.type_name()));
    }
  }

  std::string string(const char* key, bool required = false) const {
    const json* value = find(key, required);
    if (value == nullptr) {
      return {};
    }
    if (!value->is_string()) {
      throw wrong_type(key, "a string", *value);
    }
    return value->get<std::string>();
  }

  double number(const char* key) const {
    const json* value = find(key, false);
    if (value == nullptr) {
      return 0;
    }
    if (!value->is_number()) {
      throw wrong_type(key, "a number", *value);
    }
    return value->get<double>();
  }

  std::uint64_t count(const char* key) const {
    const json* value = find(key, false);
    if (value == nullptr) {
      return 0;
    }
    if (!value->is_number_unsigned()) {
      throw wrong_type(key, "a non-negative integer", *value);
    }
    return value->get<std::uint64_t>();
  }

  bool boolean(const char* key) const {
    const json* value = find(key, false);
    if (value == nullptr) {
      return false;
    }
    if (!value->is_boolean()) {
      throw wrong_type(key, "true or false", *value);
    }
    return value->get<bool>();
  }

  // The array or object under key (an empty one when absent).
  const json& container(const char* key, bool want_array, bool required = false) const {
    static const json empty_array = json::array();
    static const json empty_object = json::object();
    const json* value = find(key, required);
    if (value == nullptr) {
      return want_array ? empty_array : empty_object;
    }
    if (want_array ? !value->is_array() : !value->is_object()) {
      throw wrong_type(key, want_array ? "an array" : "an object", *value);
    }
    return *value;
  }

  std::string path(const std::string& key) const { return m_where.empty() ? key : m_where + "." + key; }

private:
  const json* find(const char* key, bool required) const {
    auto it = m_object.find(key);
    if (it == m_object.end() || it->is_null()) {
      if (required) {
        throw Error("run report: field '" + path(key) + "' is missing; is this a fleet run report?");
      }
      return nullptr;
    }
    return &*it;
  }

  Error wrong_type(const char* key, const char* expected, const json& value) const {
    return Error("run report: field '" + path(key) + "' should be " + expected + ", got " +
                 value.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 80));
  }

  std::string label() const { return m_where.empty() ? "the top level" : "'" + m_where + "'"; }

  const json& m_object;
  std::string m_where;
};

}  // namespace

double NodeOutcome::seconds() const {
  return std::accumulate(phases.begin(), phases.end(), 0.0,
                         [](double sum, const PhaseTiming& timing) { return sum + timing.seconds; });
}

std::uint64_t RunReport::uploaded_bytes() const {
  std::uint64_t sum = 0;
  for (const auto& transfer : transfers) {
    if (transfer.from == k_laptop) {
      sum += transfer.bytes;
    }
  }
  return sum;
}

int RunReport::exit_code() const {
  if (!skipped_reason.empty()) {
    return 0;
  }
  for (const auto& [name, outcome] : nodes) {
    if (outcome.result != protocol::to_string(protocol::NodeResult::ok)) {
      return 1;
    }
  }
  return 0;
}

json to_json(const RunReport& report) {
  json nodes = json::object();
  for (const auto& [name, outcome] : report.nodes) {
    json phases = json::array();
    for (const auto& timing : outcome.phases) {
      phases.push_back({{"phase", timing.phase}, {"seconds", round_ms(timing.seconds)}, {"status", timing.status}});
    }
    nodes[name] = {{"result", outcome.result},
                   {"builtOn", outcome.built_on},
                   {"storePath", outcome.store_path},
                   {"seconds", round_ms(outcome.seconds())},
                   {"phases", std::move(phases)},
                   {"error", outcome.error},
                   {"logTail", outcome.log_tail}};
    if (!outcome.moves.empty()) {
      json moves = json::array();
      for (const auto& move : outcome.moves) {
        moves.push_back({{"from", move.from}, {"to", move.to}, {"reason", move.reason}});
      }
      nodes[name]["moves"] = std::move(moves);
    }
    if (!outcome.previous_path.empty()) {
      nodes[name]["previousPath"] = outcome.previous_path;
    }
    if (!outcome.closure_diff.empty()) {
      nodes[name]["closureDiff"] = outcome.closure_diff;
    }
    if (outcome.evaluation) {
      nodes[name]["evaluation"] = {{"cpuSeconds", round_ms(outcome.evaluation->cpu_seconds)},
                                   {"peakMiB", outcome.evaluation->peak_mib},
                                   {"targets", outcome.evaluation->targets}};
    }
  }
  json transfers = json::array();
  for (const auto& transfer : report.transfers) {
    json entry{{"from", transfer.from}, {"to", transfer.to}, {"bytes", transfer.bytes}, {"skipped", transfer.skipped}};
    if (!transfer.base.empty()) {
      entry["base"] = transfer.base;
    }
    if (!transfer.note.empty()) {
      entry["note"] = transfer.note;
    }
    transfers.push_back(std::move(entry));
  }
  json result = {{"run", report.run_id},
          {"source", report.source_hash},
          {"action", report.action},
          {"configFile", report.config_file},
          {"started", round_ms(report.started)},
          {"startedAt", format_utc(report.started, k_iso8601_utc)},
          {"finished", round_ms(report.finished)},
          {"durationSeconds", round_ms(report.finished - report.started)},
          {"exitCode", report.exit_code()},
          {"uploadedBytes", report.uploaded_bytes()},
          {"transfers", std::move(transfers)},
          {"nodes", std::move(nodes)}};
  if (!report.skipped_reason.empty()) {
    result["skipped"] = report.skipped_reason;
  }
  if (!report.flake_lock.empty()) {
    result["flakeLock"] = report.flake_lock;
  }
  if (!report.input_changes.empty()) {
    result["inputChanges"] = report.input_changes;
  }
  if (!report.notify_error.empty()) {
    result["notifyError"] = report.notify_error;
  }
  return result;
}

RunReport report_from_json(const json& object) {
  Reader top(object, "");
  RunReport report;
  report.run_id = top.string("run", /*required=*/true);
  report.source_hash = top.string("source");
  report.action = top.string("action");
  report.config_file = top.string("configFile");
  report.started = top.number("started");
  report.finished = top.number("finished");
  report.skipped_reason = top.string("skipped");
  report.flake_lock = top.string("flakeLock");
  report.notify_error = top.string("notifyError");
  if (object.contains("inputChanges")) {
    for (const auto& change : top.container("inputChanges", /*want_array=*/true, /*required=*/false)) {
      if (!change.is_string()) {
        throw Error("run report: inputChanges should hold strings, got " + std::string(change.type_name()));
      }
      report.input_changes.push_back(change.get<std::string>());
    }
  }
  const json& nodes = top.container("nodes", /*want_array=*/false, /*required=*/true);
  for (const auto& [name, value] : nodes.items()) {
    Reader node(value, "nodes." + name);
    NodeOutcome outcome;
    outcome.result = node.string("result", /*required=*/true);
    outcome.built_on = node.string("builtOn");
    outcome.store_path = node.string("storePath");
    outcome.error = node.string("error");
    outcome.previous_path = node.string("previousPath");
    outcome.closure_diff = node.string("closureDiff");
    if (value.contains("evaluation")) {
      Reader evaluation(value.at("evaluation"), node.path("evaluation"));
      outcome.evaluation = EvalUsage{evaluation.number("cpuSeconds"), evaluation.count("peakMiB"), evaluation.count("targets")};
    }
    const json& phases = node.container("phases", /*want_array=*/true);
    for (std::size_t i = 0; i < phases.size(); ++i) {
      Reader phase(phases[i], node.path("phases[" + std::to_string(i) + "]"));
      outcome.phases.push_back({phase.string("phase", /*required=*/true), phase.number("seconds"), phase.string("status")});
    }
    const json& tail = node.container("logTail", /*want_array=*/true);
    for (const auto& line : tail) {
      if (!line.is_string()) {
        throw Error("run report: field '" + node.path("logTail") + "' should hold only strings");
      }
      outcome.log_tail.push_back(line.get<std::string>());
    }
    const json& moves = node.container("moves", /*want_array=*/true);
    for (std::size_t i = 0; i < moves.size(); ++i) {
      Reader move(moves[i], node.path("moves[" + std::to_string(i) + "]"));
      outcome.moves.push_back({move.string("from"), move.string("to"), move.string("reason")});
    }
    report.nodes.emplace(name, std::move(outcome));
  }
  const json& transfers = top.container("transfers", /*want_array=*/true);
  for (std::size_t i = 0; i < transfers.size(); ++i) {
    Reader transfer(transfers[i], "transfers[" + std::to_string(i) + "]");
    report.transfers.push_back(
        {transfer.string("from"), transfer.string("to"), transfer.count("bytes"), transfer.boolean("skipped"),
         transfer.string("base"), transfer.string("note")});
  }
  return report;
}

}  // namespace fleet::coordinator
