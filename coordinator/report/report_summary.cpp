// SPDX-License-Identifier: MIT
// The human-readable side of run_report.hpp: the summary printed at the end of a run.
#include "coordinator/report/run_report.hpp"

#include "coordinator/view/display_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace fleet::coordinator {
namespace {

using protocol::NodeResult;
const std::string ok(protocol::to_string(NodeResult::ok));

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

std::string built_on_text(const NodeOutcome& outcome) {
  return outcome.built_on.empty() ? "" : "built on " + printable(outcome.built_on);
}

// The phase whose failure decided the outcome: the first that failed.
std::string failed_phase(const NodeOutcome& outcome) {
  for (const auto& timing : outcome.phases) {
    if (timing.status == "fail") {
      return timing.phase;
    }
  }
  return {};
}

std::string totals(const RunReport& report) {
  std::map<std::string, int> counts;
  for (const auto& [name, outcome] : report.nodes) {
    ++counts[outcome.result];
  }
  std::size_t n = report.nodes.size();
  std::string text = std::to_string(n) + (n == 1 ? " node: " : " nodes: ") + std::to_string(counts[ok]) + " ok";
  for (auto result : {NodeResult::failed, NodeResult::rolled_back, NodeResult::skipped}) {
    const std::string name(protocol::to_string(result));
    if (counts[name] > 0) {
      text += ", " + std::to_string(counts[name]) + " " + name;
    }
  }
  // Results written by a newer fleet still add up.
  for (const auto& [result, count] : counts) {
    if (!protocol::parse_node_result(result)) {
      text += ", " + std::to_string(count) + " " + printable(result);
    }
  }
  return text;
}

// "source: laptop→b1 9.8 KiB delta · b1→b2 9.8 KiB delta · b1→t3 held": who sent the source where.
std::string transfers_line(const RunReport& report) {
  std::string line;
  for (const auto& transfer : report.transfers) {
    line += line.empty() ? "source: " : " · ";
    line += printable(transfer.from) + "→" + printable(transfer.to) + " ";
    if (transfer.skipped) {
      line += "held";
      continue;
    }
    line += format_bytes(transfer.bytes) + (transfer.base.empty() ? "" : " delta");
    if (!transfer.note.empty()) {
      line += " (" + printable(transfer.note) + ")";
    }
  }
  return line.empty() ? line : line + "\n";
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  double value = static_cast<double>(bytes) / 1024;
  for (const char* unit : {"KiB", "MiB", "GiB"}) {
    if (value < 1024 || std::string_view(unit) == "GiB") {
      return format("%.1f ", value) + unit;
    }
    value /= 1024;
  }
  return {};
}

std::string format_utc(double ts, const char* format) {
  std::time_t seconds = static_cast<std::time_t>(ts);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, format, &tm);
  return buffer;
}

std::string format_seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    seconds = 0;
  }
  if (seconds < 59.95) {
    return format("%.1fs", seconds);
  }
  auto whole = static_cast<long long>(std::llround(seconds));
  char buffer[32];
  if (whole < 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", whole / 60, whole % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", whole / 3600, (whole % 3600) / 60);
  }
  return buffer;
}

std::string format_summary(const RunReport& report, const std::filesystem::path& report_path) {
  std::size_t name_width = 0;
  std::size_t result_width = 0;
  std::size_t built_width = 0;
  std::size_t seconds_width = 0;
  for (const auto& [name, outcome] : report.nodes) {
    name_width = std::max(name_width, display_width(printable(name)));
    result_width = std::max(result_width, display_width(printable(outcome.result)));
    built_width = std::max(built_width, display_width(built_on_text(outcome)));
    seconds_width = std::max(seconds_width, format_seconds(outcome.seconds()).size());
  }

  std::string text;
  for (const auto& [name, outcome] : report.nodes) {
    std::string line = pad_right(printable(name), name_width) + "  " + pad_right(printable(outcome.result), result_width);
    if (built_width > 0) {
      line += "  " + pad_right(built_on_text(outcome), built_width);
    }
    if (outcome.result != protocol::to_string(NodeResult::skipped) || !outcome.phases.empty()) {
      std::string seconds = format_seconds(outcome.seconds());
      line += "  " + std::string(seconds_width - seconds.size(), ' ') + seconds;
    }
    if (!outcome.store_path.empty()) {
      line += "  " + printable(outcome.store_path);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    text += line + "\n";
  }

  for (const auto& [name, outcome] : report.nodes) {
    if (outcome.result == ok || (outcome.error.empty() && outcome.log_tail.empty())) {
      continue;
    }
    std::string phase = failed_phase(outcome);
    text += "\nFAILED: " + printable(name) + (phase.empty() ? "" : " " + printable(phase));
    if (outcome.result != protocol::to_string(NodeResult::failed)) {
      text += " (" + printable(outcome.result) + ")";
    }
    text += "\n";
    for (const auto& line : printable_lines(outcome.error)) {
      text += line + "\n";
    }
    for (const auto& line : outcome.log_tail) {
      text += "  " + printable(line) + "\n";
    }
  }

  if (!report.skipped_reason.empty()) {
    text += "\nskipped: " + printable(report.skipped_reason) + "\n";
  }
  text += "\n" + transfers_line(report);
  text += totals(report) + " · uploaded " + format_bytes(report.uploaded_bytes()) + " · " +
          format_seconds(report.finished - report.started);
  if (!report_path.empty()) {
    text += " · report: " + report_path.string();
  }
  return text + "\n";
}

}  // namespace fleet::coordinator
