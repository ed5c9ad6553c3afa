// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/view/progress_view.hpp"

#include <ostream>
#include <set>

namespace fleet::coordinator {

// `--json`: every event as one JSON line on `out`, flushed per line, and at the end one line
// {"report": <the run report>}. Coordinator notes go to `err` as plain text.
class JsonView final : public EventLogView {
public:
  JsonView(std::vector<std::string> nodes, std::ostream& out, std::ostream& err);

  void on_message(std::string_view text) override;
  void tick(double now) override;
  void finish(const RunReport& report, const std::filesystem::path& report_path) override;

private:
  void print(const protocol::Event& event) override;
  std::set<std::string, std::less<>> m_nodes;
  std::ostream& m_out;
  std::ostream& m_err;
};

}  // namespace fleet::coordinator
