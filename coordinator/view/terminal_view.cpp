// SPDX-License-Identifier: MIT
#include "coordinator/view/terminal_view.hpp"

#include "coordinator/view/display_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include <sys/ioctl.h>

namespace fleet::coordinator {
namespace {

constexpr std::size_t k_recent_lines = 10;
constexpr std::size_t k_phase_width = 8;
constexpr const char* k_red = "31";
constexpr const char* k_green = "32";
constexpr const char* k_yellow = "33";
constexpr const char* k_cyan = "36";
constexpr const char* k_dim = "2";
constexpr std::array<const char*, 10> k_spinner{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

std::string clock_text(double seconds) {
  auto whole = static_cast<long long>(std::isfinite(seconds) && seconds > 0 ? seconds : 0);
  char buffer[32];
  if (whole >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", whole / 3600, (whole % 3600) / 60, whole % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%02lld:%02lld", whole / 60, whole % 60);
  }
  return buffer;
}

}  // namespace

TerminalSize terminal_size(int fd) {
  TerminalSize size;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    size.columns = ws.ws_col;
    size.rows = ws.ws_row;
  }
  return size;
}

TerminalView::TerminalView(std::vector<std::string> nodes, std::ostream& err, Color color, SizeProbe probe)
    : m_err(err), m_color(color == Color::on), m_probe(std::move(probe)) {
  for (auto& name : nodes) {
    if (m_index.count(name) > 0) {
      continue;
    }
    m_index.emplace(name, m_nodes.size());
    m_name_width = std::max(m_name_width, display_width(printable(name)));
    NodeLine line;
    line.name = std::move(name);
    m_nodes.push_back(std::move(line));
  }
}

std::string TerminalView::paint(const char* sgr, const std::string& text) const {
  return m_color ? "\x1b[" + std::string(sgr) + "m" + text + "\x1b[0m" : text;
}

std::string TerminalView::render(const NodeLine& node, std::size_t columns) const {
  const char* colour = k_dim;
  std::string glyph = "·";
  switch (node.state) {
  case NodeState::waiting:
    break;
  case NodeState::working:
  case NodeState::completed:
    colour = k_cyan;
    glyph = k_spinner[m_ticks % k_spinner.size()];
    break;
  case NodeState::ok:
    colour = k_green;
    glyph = "✓";
    break;
  case NodeState::failed:
    colour = k_red;
    glyph = "✗";
    break;
  case NodeState::rolled_back:
    colour = k_yellow;
    glyph = "↺";
    break;
  }
  std::string phase = node.state == NodeState::waiting ? "waiting" : node.phase;
  double end = node.stopped >= 0 ? node.stopped : m_now;
  std::string elapsed = node.first_seen >= 0 ? clock_text(end - node.first_seen) : "--:--";
  std::string head = pad_right(printable(node.name), m_name_width) + "  " + pad_right(phase, k_phase_width) + "  " + elapsed;
  // Never touch the last column: some terminals wrap there, and a wrapped line breaks cursor-up.
  std::size_t width = columns > 2 ? columns - 1 : 1;
  std::size_t used = 2 + display_width(head);
  std::string text = used + 2 < width ? fit_columns(node.text, width - used - 2) : "";
  if (used > width) {
    head = fit_columns(head, width > 2 ? width - 2 : 0);
  }
  std::string line = paint(colour, glyph) + " " + paint(colour, head);
  if (!text.empty()) {
    line += "  " + text;
  }
  return line;
}

std::string TerminalView::render_rest(const std::vector<const NodeLine*>& rest, std::size_t columns) const {
  std::map<std::string, int> counts;
  for (const NodeLine* node : rest) {
    switch (node->state) {
    case NodeState::waiting:
      ++counts["waiting"];
      break;
    case NodeState::working:
    case NodeState::completed:
      ++counts["running"];
      break;
    case NodeState::ok:
      ++counts["done"];
      break;
    case NodeState::failed:
      ++counts["failed"];
      break;
    case NodeState::rolled_back:
      ++counts["rolled back"];
      break;
    }
  }
  std::string text = "… " + std::to_string(rest.size()) + " more:";
  const char* separator = " ";
  for (const auto& [what, count] : counts) {
    text += separator + std::to_string(count) + " " + what;
    separator = ", ";
  }
  return paint(k_dim, fit_columns(text, columns > 2 ? columns - 1 : 1));
}

std::vector<std::string> TerminalView::live_lines(TerminalSize size) const {
  std::vector<std::string> lines;
  std::size_t max_lines = std::max<std::size_t>(size.rows > 1 ? size.rows - 1 : 1, 2);
  if (m_nodes.size() <= max_lines) {
    for (const auto& node : m_nodes) {
      lines.push_back(render(node, size.columns));
    }
    return lines;
  }
  // Taller than the terminal: cursor-up cannot reach lines scrolled away, so show the nodes
  // that are busy and count the others.
  std::vector<const NodeLine*> rest;
  for (const auto& node : m_nodes) {
    bool busy = node.state == NodeState::working || node.state == NodeState::completed;
    if (busy && lines.size() + 1 < max_lines) {
      lines.push_back(render(node, size.columns));
    } else {
      rest.push_back(&node);
    }
  }
  lines.push_back(render_rest(rest, size.columns));
  return lines;
}

std::string TerminalView::cursor_to_live_top() const {
  return m_drawn > 0 ? "\r\x1b[" + std::to_string(m_drawn) + "A" : "\r";
}

void TerminalView::redraw() {
  std::vector<std::string> lines = live_lines(m_probe ? m_probe() : TerminalSize{});
  std::string body;
  for (const auto& line : lines) {
    body += "\x1b[2K" + line + "\n";
  }
  // Ticks come four times a second; an unchanged screen is not worth the bytes over ssh.
  if (body == m_last_body && lines.size() == m_drawn) {
    return;
  }
  // Clearing line by line (not the whole screen first) avoids flicker; "\x1b[J" then wipes
  // what remains of a taller previous frame.
  std::string frame = cursor_to_live_top() + body + "\x1b[J";
  m_drawn = lines.size();
  m_last_body = std::move(body);
  // One write per frame so the terminal never shows half a redraw.
  m_err << frame << std::flush;
}

void TerminalView::print_above(const std::vector<std::string>& lines) {
  std::string frame = cursor_to_live_top() + "\x1b[J";
  for (const auto& line : lines) {
    frame += line + "\n";
  }
  m_drawn = 0;
  m_last_body.clear();
  m_err << frame;
  redraw();
}

void TerminalView::on_transition(const NodeTransition& transition) {
  auto found = m_index.find(transition.node);
  if (found == m_index.end()) {
    return;
  }
  NodeLine& node = m_nodes[found->second];
  // Elapsed times run on the coordinator's clock: agents' clocks may be skewed.
  double now = m_now > 0 ? m_now : transition.ts;
  // The clock stops whenever the node reaches an end: failed, then rolled back, stops it twice.
  bool ended = transition.state == NodeState::ok || transition.state == NodeState::failed ||
               transition.state == NodeState::rolled_back;
  if (ended && transition.state != node.state) {
    node.stopped = now;
  }
  node.state = transition.state;
  if (transition.event != nullptr && !show_event(node, *transition.event, now)) {
    return;
  }
  redraw();
}

bool TerminalView::show_event(NodeLine& node, const protocol::Event& event, double now) {
  if (node.first_seen < 0) {
    node.first_seen = now;
  }
  node.last_seen = now;
  std::vector<std::string> lines = printable_lines(event.msg);
  std::string phase(protocol::to_string(event.phase));
  switch (event.status) {
  case protocol::Status::start:
    node.phase = phase;
    node.text = lines.empty() ? "" : lines.back();
    return true;
  case protocol::Status::progress:
    for (auto& line : lines) {
      node.recent.push_back(line);
      if (node.recent.size() > k_recent_lines) {
        node.recent.pop_front();
      }
    }
    if (!lines.empty()) {
      node.text = lines.back();
    }
    // Log lines come fast; the next tick shows the latest one.
    return false;
  case protocol::Status::ok:
    node.phase = phase;
    node.text = lines.empty() ? "ok" : lines.front();
    if (event.phase == protocol::Phase::rollback) {
      node.text = "rolled back";
    }
    return true;
  case protocol::Status::fail: {
    node.phase = phase;
    node.text = lines.empty() ? "failed" : lines.front();
    std::vector<std::string> block{paint("1;31", "FAILED:") + " " + printable(node.name) + " " + phase};
    for (std::size_t i = 0; i < lines.size() && i < k_recent_lines; ++i) {
      block.push_back(lines[i]);
    }
    for (const auto& line : node.recent) {
      block.push_back("  " + line);
    }
    print_above(block);
    return false;
  }
  }
  return true;
}

void TerminalView::on_message(std::string_view text) { print_above(printable_lines(text)); }

void TerminalView::tick(double now) {
  m_now = std::max(m_now, now);
  ++m_ticks;
  redraw();
}

void TerminalView::finish(const RunReport& report, const std::filesystem::path& report_path) {
  m_now = std::max(m_now, report.finished);
  for (auto& node : m_nodes) {
    auto outcome = report.nodes.find(node.name);
    if (outcome == report.nodes.end()) {
      continue;
    }
    const auto result = protocol::parse_node_result(outcome->second.result);
    // A node's clock stops at its last event, not when the slowest node of the run is done.
    if (node.stopped < 0) {
      node.stopped = node.last_seen >= 0 ? node.last_seen : m_now;
    }
    if (result == protocol::NodeResult::ok) {
      node.state = NodeState::ok;
      node.text = outcome->second.store_path.empty() ? "ok" : outcome->second.store_path;
    } else if (result == protocol::NodeResult::rolled_back) {
      node.state = NodeState::rolled_back;
    } else if (result == protocol::NodeResult::failed) {
      node.state = NodeState::failed;
    } else {
      node.state = NodeState::waiting;
      node.first_seen = -1;
      node.text = outcome->second.result;
    }
  }
  redraw();
  m_drawn = 0;
  m_last_body.clear();
  m_err << '\n' << format_summary(report, report_path) << std::flush;
}

}  // namespace fleet::coordinator
