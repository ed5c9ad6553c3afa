// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/view/progress_view.hpp"

#include <map>
#include <ostream>

namespace fleet::coordinator {

// Which clock the plain view's timestamps read: local for people, UTC for reproducible output.
enum class TimeZone { local, utc };

// Without a terminal (cron, CI, a pipe): one timestamped line per event of interest on `err`,
// such as "[23:01:02] t1 build start" and "[23:01:03] t1 build | <log line>", no escape codes.
// Notes carry the time of the latest event or tick. At the end, the run summary.
class PlainView final : public EventLogView {
public:
  PlainView(std::vector<std::string> nodes, std::ostream& err, TimeZone zone = TimeZone::local);

  void on_message(std::string_view text) override;
  void tick(double now) override;
  void finish(const RunReport& report, const std::filesystem::path& report_path) override;

private:
  void print(const protocol::Event& event) override;
  std::string stamp(double ts) const;
  void line(double ts, const std::string& text);

  std::map<std::string, std::map<protocol::Phase, double>, std::less<>> m_started;  // node → phase → start
  std::size_t m_name_width = 0;
  std::ostream& m_err;
  TimeZone m_zone;
  double m_now = 0;
};

}  // namespace fleet::coordinator
