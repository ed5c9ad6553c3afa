// SPDX-License-Identifier: MIT
#include "coordinator/report/node_logs.hpp"

#include "uploader/base/unique_fd.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fleet::coordinator {
namespace {

bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Control characters (terminal escapes from a hostile agent) are shown, not obeyed, when a
// person later runs `cat` on the log.
std::string printable_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') {
      out += '?';
    } else if (u == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string log_timestamp(double ts) {
  if (!std::isfinite(ts) || ts < 0) {
    ts = 0;
  }
  std::time_t seconds = static_cast<std::time_t>(ts);
  auto millis = static_cast<int>((ts - static_cast<double>(seconds)) * 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", std::min(999, std::max(0, millis)));
  return buffer;
}

NodeLogs::NodeLogs(std::filesystem::path dir) : m_dir(std::move(dir)) {}

std::FILE* NodeLogs::file_for(const std::string& node) {
  std::string name = plain_name(node) ? node : "_other";
  auto it = m_files.find(name);
  if (it != m_files.end()) {
    return it->second.get();
  }
  // The runs directory itself may not exist yet on a first run; every level is private.
  std::filesystem::path partial;
  for (const auto& part : m_dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      if (m_problem.empty()) {
        m_problem = "cannot create " + partial.string() + ": " + std::strerror(errno);
      }
      return nullptr;
    }
  }
  auto path = m_dir / (name + ".log");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  std::FILE* file = fd.valid() ? ::fdopen(fd.get(), "a") : nullptr;
  if (file == nullptr) {
    if (m_problem.empty()) {
      m_problem = "cannot write " + path.string() + ": " + std::strerror(errno);
    }
    return nullptr;
  }
  fd.release();  // the FILE owns it now
  m_files[name].reset(file);
  return file;
}

void NodeLogs::on_event(const protocol::Event& event) {
  std::FILE* file = file_for(event.node);
  if (file == nullptr) {
    return;
  }
  std::string prefix = log_timestamp(event.ts) + " " + std::string(protocol::to_string(event.phase)) + " " +
                       std::string(protocol::to_string(event.status));
  std::string_view text = event.msg;
  do {
    auto end = text.find('\n');
    std::string line = prefix + (text.empty() ? "" : " " + printable_line(text.substr(0, end))) + "\n";
    std::fputs(line.c_str(), file);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  } while (!text.empty());
  if (event.extra.is_object()) {
    auto diff = event.extra.find("closureDiff");
    if (diff != event.extra.end() && diff->is_string()) {
      std::string_view d = diff->get_ref<const std::string&>();
      while (!d.empty()) {
        auto end = d.find('\n');
        std::fputs((prefix + " closure: " + printable_line(d.substr(0, end)) + "\n").c_str(), file);
        d.remove_prefix(end == std::string_view::npos ? d.size() : end + 1);
      }
    }
  }
  if (std::fflush(file) != 0 && m_problem.empty()) {
    m_problem = "cannot write the log of " + event.node + " in " + m_dir.string() + ": " + std::strerror(errno);
  }
}

}  // namespace fleet::coordinator
