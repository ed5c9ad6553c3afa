// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/view/progress_view.hpp"

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <ostream>

namespace fleet::coordinator {

// The size of the terminal the view draws on.
struct TerminalSize {
  std::size_t columns = 100;
  std::size_t rows = 24;
};

// The size of the terminal on `fd` (TIOCGWINSZ), or the defaults when it cannot be asked.
TerminalSize terminal_size(int fd);

// On a terminal: one line per node, "✓ t1  build     00:12  <last log line>", redrawn in place
// (cursor up + clear line) at each tick and state change; a failure or a coordinator note is
// printed once as a block above the live lines. Lines never wrap; when the fleet is taller than
// the terminal, the busy nodes are shown and the rest counted on one line. All output goes
// through this class to `err`, so nothing else may write to that terminal during a run.
class TerminalView final : public ProgressView {
public:
  using SizeProbe = std::function<TerminalSize()>;

  // `probe` is asked for the terminal size at every redraw, so resizing just works.
  TerminalView(std::vector<std::string> nodes, std::ostream& err, Color color, SizeProbe probe);

  void on_transition(const NodeTransition& transition) override;
  void on_message(std::string_view text) override;
  void tick(double now) override;
  void finish(const RunReport& report, const std::filesystem::path& report_path) override;

private:
  struct NodeLine {
    std::string name;
    NodeState state = NodeState::waiting;
    std::string phase;
    double first_seen = -1;
    double last_seen = -1;
    double stopped = -1;
    std::string text;                 // what the line shows after the elapsed time
    std::deque<std::string> recent;   // last log lines, for the failure block
  };

  // Shows what `event` says of `node`; true when the live lines need a redraw now.
  bool show_event(NodeLine& node, const protocol::Event& event, double now);
  std::string render(const NodeLine& node, std::size_t columns) const;
  std::string render_rest(const std::vector<const NodeLine*>& rest, std::size_t columns) const;
  std::vector<std::string> live_lines(TerminalSize size) const;
  std::string cursor_to_live_top() const;
  void redraw();
  void print_above(const std::vector<std::string>& lines);
  std::string paint(const char* sgr, const std::string& text) const;

  std::vector<NodeLine> m_nodes;
  std::map<std::string, std::size_t, std::less<>> m_index;
  std::size_t m_name_width = 0;
  std::ostream& m_err;
  bool m_color;
  SizeProbe m_probe;
  double m_now = 0;
  std::size_t m_ticks = 0;
  std::size_t m_drawn = 0;  // live lines currently on screen, below which the cursor sits
  std::string m_last_body;  // what those lines show
};

}  // namespace fleet::coordinator
