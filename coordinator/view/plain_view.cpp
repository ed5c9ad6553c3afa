// SPDX-License-Identifier: MIT
#include "coordinator/view/plain_view.hpp"

#include "coordinator/view/display_text.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace fleet::coordinator {

PlainView::PlainView(std::vector<std::string> nodes, std::ostream& err, TimeZone zone) : m_err(err), m_zone(zone) {
  for (auto& name : nodes) {
    m_name_width = std::max(m_name_width, display_width(printable(name)));
    m_started.try_emplace(std::move(name));
  }
}

std::string PlainView::stamp(double ts) const {
  std::time_t seconds = std::isfinite(ts) ? static_cast<std::time_t>(ts) : 0;
  std::tm tm{};
  if (m_zone == TimeZone::utc) {
    gmtime_r(&seconds, &tm);
  } else {
    localtime_r(&seconds, &tm);
  }
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "[%H:%M:%S]", &tm);
  return buffer;
}

void PlainView::line(double ts, const std::string& text) { m_err << stamp(ts) << ' ' << text << '\n'; }

void PlainView::print(const protocol::Event& event) {
  auto node = m_started.find(event.node);
  if (node == m_started.end()) {
    return;
  }
  // Agents' clocks may run ahead or behind; notes use the latest time seen.
  m_now = std::max(m_now, event.ts);
  std::string prefix = pad_right(printable(event.node), m_name_width) + " " + std::string(protocol::to_string(event.phase));
  std::vector<std::string> lines = printable_lines(event.msg);

  if (event.status == protocol::Status::progress) {
    for (const auto& text : lines) {
      line(event.ts, prefix + " | " + text);
    }
    m_err.flush();
    return;
  }

  std::string head = prefix;
  switch (event.status) {
  case protocol::Status::start:
    head += " start";
    node->second[event.phase] = event.ts;
    break;
  case protocol::Status::ok:
  case protocol::Status::fail: {
    head += event.status == protocol::Status::ok ? " ok" : " FAILED";
    auto started = node->second.find(event.phase);
    if (started != node->second.end()) {
      head += " (" + format_seconds(event.ts - started->second) + ")";
      node->second.erase(started);
    }
    break;
  }
  case protocol::Status::progress:
    break;
  }
  if (!lines.empty()) {
    head += ": " + lines.front();
  }
  line(event.ts, head);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    line(event.ts, prefix + " | " + lines[i]);
  }
  m_err.flush();
}

void PlainView::on_message(std::string_view text) {
  for (const auto& text_line : printable_lines(text)) {
    line(m_now, text_line);
  }
  m_err.flush();
}

void PlainView::tick(double now) { m_now = std::max(m_now, now); }

void PlainView::finish(const RunReport& report, const std::filesystem::path& report_path) {
  m_err << '\n' << format_summary(report, report_path);
  m_err.flush();
}

}  // namespace fleet::coordinator
