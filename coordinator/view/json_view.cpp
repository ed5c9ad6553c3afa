// SPDX-License-Identifier: MIT
#include "coordinator/view/json_view.hpp"

#include "coordinator/view/display_text.hpp"

namespace fleet::coordinator {

JsonView::JsonView(std::vector<std::string> nodes, std::ostream& out, std::ostream& err)
    : m_nodes(nodes.begin(), nodes.end()), m_out(out), m_err(err) {}

void JsonView::print(const protocol::Event& event) {
  if (m_nodes.count(event.node) == 0) {
    return;
  }
  // Flushed per line: a consumer such as `jq` or a CI log follows the run live.
  m_out << protocol::to_json_line(event) << std::endl;
}

void JsonView::on_message(std::string_view text) {
  for (const auto& line : printable_lines(text)) {
    m_err << line << '\n';
  }
  m_err.flush();
}

void JsonView::tick(double /*now*/) {}

void JsonView::finish(const RunReport& report, const std::filesystem::path& report_path) {
  nlohmann::json line = {{"report", to_json(report)}};
  if (!report_path.empty()) {
    line["reportPath"] = report_path.string();
  }
  m_out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

}  // namespace fleet::coordinator
