// SPDX-License-Identifier: MIT
#include "builder/activation/health_checks.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"
#include "uploader/base/unique_fd.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace fleet::builder {
namespace {

constexpr int k_default_timeout = 10;
constexpr int k_default_command_timeout = 60;
constexpr int k_default_interval = 2;

// Connects to host:port within `timeout` seconds; returns the socket, or none and sets `error`.
UniqueFd connect_tcp(const std::string& host, int port, int timeout, std::string& error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return UniqueFd();
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  error = "no address for " + host;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    UniqueFd socket(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket.valid()) {
      error = std::strerror(errno);
      continue;
    }
    if (::connect(socket.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = std::strerror(errno);
      continue;
    }
    pollfd pfd{socket.get(), POLLOUT, 0};
    if (poll(&pfd, 1, timeout * 1000) != 1) {
      error = "no answer within " + std::to_string(timeout) + " s";
      continue;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      error = std::strerror(so_error);
      continue;
    }
    return socket;
  }
  return UniqueFd();
}

// The end of what a command check printed. A check that prints without end for its whole time
// limit must not fill the target's memory: only the last k_kept_output bytes are kept.
class OutputTail {
public:
  void add(std::string_view line) {
    m_text.append(line);
    m_text += '\n';
    if (m_text.size() > 2 * k_kept_output) {
      m_text.erase(0, m_text.size() - k_kept_output);
    }
  }
  std::string text() const {
    return m_text.size() > k_kept_output ? "…" + m_text.substr(m_text.size() - k_kept_output) : m_text;
  }

private:
  static constexpr std::size_t k_kept_output = 16 * 1024;
  std::string m_text;
};

CheckOutcome command_check(const std::string& command, int timeout) {
  OutputTail out;
  auto result = run_process({{"/bin/sh", "-c", command}, {}, "", std::chrono::seconds{timeout}},
                            [&](std::string_view line) { out.add(line); });
  std::string output = out.text() + result.err_tail;
  if (result.timed_out) {
    output += "(timed out after " + std::to_string(timeout) + " s)";
  } else if (!result.ok()) {
    output += "(exit status " + std::to_string(result.exit_code) + ")";
  }
  return {result.ok(), "command '" + command + "'", output, 0};
}

CheckOutcome tcp_check(const std::string& host, int port, int timeout) {
  std::string error;
  auto socket = connect_tcp(host, port, timeout, error);
  std::string summary = "tcp " + host + ":" + std::to_string(port);
  return {socket.valid(), summary, socket.valid() ? "accepted a connection" : error, 0};
}

// Plain HTTP/1.0 GET; https:// goes through curl, since the agent links no TLS library.
CheckOutcome http_check(const std::string& url, int expected, int timeout) {
  std::string summary = "http GET " + url + " → " + std::to_string(expected);
  if (url.rfind("https://", 0) == 0) {
    auto result = run_process({{"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                                std::to_string(timeout), url},
                               {}, "", std::chrono::seconds{timeout + 5}});
    bool passed = result.ok() && result.out == std::to_string(expected);
    return {passed, summary, "status " + result.out + " " + result.err_tail, 0};
  }
  std::string rest = url.substr(std::string("http://").size());
  std::string authority = rest.substr(0, rest.find('/'));
  std::string path = rest.size() > authority.size() ? rest.substr(authority.size()) : "/";
  std::string host = authority;
  int port = 80;
  if (auto colon = authority.rfind(':'); colon != std::string::npos && authority.find(']') == std::string::npos) {
    host = authority.substr(0, colon);
    port = std::atoi(authority.c_str() + colon + 1);
  }
  std::string error;
  auto socket = connect_tcp(host, port, timeout, error);
  if (!socket.valid()) {
    return {false, summary, error, 0};
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n";
  if (::send(socket.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return {false, summary, "cannot send the request", 0};
  }
  std::string response;
  char buffer[1024];
  while (response.find("\r\n") == std::string::npos && response.size() < 8192) {
    pollfd pfd{socket.get(), POLLIN, 0};
    if (poll(&pfd, 1, timeout * 1000) != 1) {
      return {false, summary, "no response within " + std::to_string(timeout) + " s", 0};
    }
    ssize_t n = ::recv(socket.get(), buffer, sizeof buffer, 0);
    if (n <= 0) {
      break;
    }
    response.append(buffer, static_cast<std::size_t>(n));
  }
  std::string status_line = response.substr(0, response.find("\r\n"));
  // "HTTP/1.1 200 OK"
  auto space = status_line.find(' ');
  int status = space == std::string::npos ? 0 : std::atoi(status_line.c_str() + space + 1);
  return {status == expected, summary, status_line.empty() ? "no HTTP response" : status_line, 0};
}

// The check's time limit in whole seconds, rounded up: a fraction such as 0.5 must never become
// 0, which would mean no limit at all.
int timeout_of(const protocol::HealthCheck& check, int fallback) {
  auto value = check.find("timeout");
  if (value == check.end() || !value->is_number()) {
    return fallback;
  }
  return static_cast<int>(std::clamp(std::ceil(value->get<double>()), 1.0, double(7 * 24 * 3600)));
}

CheckOutcome attempt(const protocol::HealthCheck& check) {
  const std::string type = check.value("type", "");
  const int timeout = timeout_of(check, type == "command" ? k_default_command_timeout : k_default_timeout);
  if (type == "command") {
    return command_check(check.value("command", ""), timeout);
  }
  if (type == "tcp") {
    return tcp_check(check.value("host", "127.0.0.1"), check.value("port", 0), timeout);
  }
  if (type == "http") {
    return http_check(check.value("url", ""), check.value("status", 200), timeout);
  }
  if (type == "systemd") {
    std::vector<std::string> argv{"systemctl", "is-active", "--"};
    for (const auto& unit : check["units"]) {
      argv.push_back(unit.get<std::string>());
    }
    auto result = run_process({argv, {}, "", std::chrono::seconds{timeout}});
    return {result.ok(), "systemd units active: " + describe_command({argv.begin() + 3, argv.end()}),
            result.out + result.err_tail, 0};
  }
  // system-running: what `nixos-rebuild` users look at after a switch.
  auto result = run_process({{"systemctl", "is-system-running"}, {}, "", std::chrono::seconds{timeout}});
  std::string state = result.out.substr(0, result.out.find('\n'));
  return {state == "running", "systemctl is-system-running = running",
          state.empty() ? result.err_tail : "state: " + state, 0};
}

}  // namespace

CheckOutcome run_health_check(const protocol::HealthCheck& check) {
  const int retries = check.value("retries", 0);
  const int interval = static_cast<int>(check.value("interval", k_default_interval));
  CheckOutcome outcome;
  for (int i = 0; i <= retries; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(std::chrono::seconds{interval});
    }
    try {
      outcome = attempt(check);
    } catch (const std::exception& e) {
      // Whatever stops a check from running, a bug included, fails it: the system then rolls
      // back instead of staying on a generation nobody checked.
      outcome = {false, check.value("type", "check"), describe_error(e), 0};
    }
    outcome.attempts = i + 1;
    if (outcome.passed) {
      break;
    }
  }
  return outcome;
}

}  // namespace fleet::builder
