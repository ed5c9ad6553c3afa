// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/run/run_state.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace fleet::coordinator {

// What a build job's agent says, read on the loop thread. Agent output is hostile input: only
// well-formed events about nodes the location serves count. A self-building target's activation
// is followed: confirmed over a new connection when it asks, and reattached to when the job's
// connection drops before it ended (the new configuration may have taken the connection down
// while the target goes on, and may roll back, by itself).
class JobFeed {
public:
  explicit JobFeed(RunState& state) : m_state(state) {}

  // One line of the agent's stdout on location `i`.
  void on_line(std::size_t i, const std::string& line);
  // One line of its stderr: the last few KiB are kept for the error of a job that died.
  void on_stderr(std::size_t i, const std::string& line);
  // The last of the agent's stderr on location `i`, ":\n"-prefixed; empty when it said nothing.
  std::string stderr_tail(std::size_t i) const;

  // Told on the loop thread how one reattachment ended, in words.
  using AttachEnd = std::function<void(const std::string& ending)>;

  // The job on `i` ended with `open` nodes unfinished: reattaches to those whose activation is
  // under way (once each), calling `then` after each attempt. Returns whether it reattached to any.
  bool reattach(std::size_t i, const std::vector<std::string>& open, const AttachEnd& then);

private:
  void confirm(std::size_t i, const std::string& node, const std::string& id, int timeout);

  RunState& m_state;
};

}  // namespace fleet::coordinator
