// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/report/run_report.hpp"
#include "coordinator/run/node_state.hpp"
#include "uploader/protocol/event.hpp"

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::coordinator {

// What the user sees of a run while it happens. A view observes the run's NodeTracker (each
// node's state, and the events behind it: an agent's, or the coordinator's own for phases such as
// upload) and hears the orchestrator's notes, always on the run's one thread; it owns its output
// streams' formatting. Transitions for nodes the view was not given are ignored.
class ProgressView : public NodeObserver {
public:

  // A note from the coordinator itself, such as "uploading 1.2 MiB to b1".
  virtual void on_message(std::string_view text) = 0;

  // Called about four times a second with the current time; the terminal view redraws.
  virtual void tick(double now) = 0;

  // The run is over: show its outcome. `report_path` (may be empty) is where it was saved.
  virtual void finish(const RunReport& report, const std::filesystem::path& report_path) = 0;
};

// A view that shows each event as it comes (a log), and nothing else of a node's state.
class EventLogView : public ProgressView {
public:
  void on_transition(const NodeTransition& transition) final {
    if (transition.event != nullptr) {
      print(*transition.event);
    }
  }

private:
  virtual void print(const protocol::Event& event) = 0;
};

enum class ViewMode { terminal, plain, json };

// Whether to colour the terminal view; the NO_COLOR environment variable turns it off anyway.
enum class Color { off, on };

// json when json_flag is set; terminal when fd is a terminal and TERM is set and not "dumb";
// plain otherwise.
ViewMode choose_view_mode(bool json_flag, int fd);

// The view for `mode` over the run's nodes (in display order). The terminal and plain views
// write to `err`; the JSON view writes events to `out` and notes to `err`, so that `out` holds
// only JSON lines. The terminal view measures the terminal on stderr.
std::unique_ptr<ProgressView> make_view(ViewMode mode, std::vector<std::string> nodes, std::ostream& out,
                                        std::ostream& err, Color color);

}  // namespace fleet::coordinator
