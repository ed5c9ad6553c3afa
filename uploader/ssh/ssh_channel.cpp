// SPDX-License-Identifier: MIT
#include "uploader/ssh/ssh_channel.hpp"

#include "uploader/base/error.hpp"
#include "uploader/ssh/ssh_handles.hpp"
#include "uploader/ssh/ssh_session.hpp"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <algorithm>
#include <array>

namespace fleet::ssh {

namespace {

constexpr std::size_t k_read_chunk = 64 * 1024;
// Large enough to keep a 2 MiB OpenSSH window busy, small enough to drain stdout in between.
constexpr std::size_t k_max_write = 256 * 1024;
constexpr std::chrono::milliseconds k_slice{500};
constexpr std::size_t k_max_stderr_line = 64 * 1024;
// For a wait_step without a limit of its own: only the channel's deadline applies.
constexpr auto k_channel_deadline = std::chrono::steady_clock::time_point::max();

std::string quoted(const std::string& command) {
  constexpr std::size_t k_shown = 60;
  return "'" + (command.size() > k_shown ? command.substr(0, k_shown) + "…" : command) + "'";
}

}  // namespace

std::string describe(const ExitStatus& status) {
  return status.signal.empty() ? "exit status " + std::to_string(status.code) : "signal " + status.signal;
}

void SshChannel::ChannelFree::operator()(ssh_channel_struct* channel) const noexcept {
  if (ssh_channel_is_open(channel) != 0) {
    ssh_channel_close(channel);
  }
  ssh_channel_free(channel);
}

void SshChannel::CallbacksFree::operator()(ssh_channel_callbacks_struct* callbacks) const noexcept {
  delete callbacks;
}

SshChannel::SshChannel(SshSession& session, std::string command, std::chrono::seconds within,
                       std::function<void(std::string_view)> on_stderr_line)
    : m_session(session),
      m_command(std::move(command)),
      m_within(within),
      m_deadline(Clock::now() + within),
      m_on_stderr_line(std::move(on_stderr_line)) {}

SshChannel::~SshChannel() {
  // libssh keeps a freed channel alive until the server closes it too, and would still call
  // its callbacks from later reads on the session: unhook them before this object goes.
  if (m_channel && m_callbacks) {
    ssh_remove_channel_callbacks(m_channel.get(), m_callbacks.get());
  }
}

void SshChannel::open() {
  ssh_session s = m_session.handle();
  std::string where = m_session.describe();
  auto fail = [&](std::string_view what) {
    SshFailure kind = ssh_is_connected(s) != 0 ? SshFailure::channel_failed : SshFailure::connection_lost;
    throw SshError(kind, std::string(what) + " " + quoted(m_command) + " on " + where + ": " + detail::last_error(s));
  };
  m_channel.reset(ssh_channel_new(s));
  if (!m_channel) {
    fail("cannot create a channel for");
  }
  if (ssh_channel_open_session(m_channel.get()) != SSH_OK) {
    fail("cannot open a session channel for");
  }
  // Registered before the exec request so that a fast command's exit cannot be missed.
  m_callbacks.reset(new ssh_channel_callbacks_struct{});
  m_callbacks->userdata = this;
  m_callbacks->channel_exit_status_function = &SshChannel::on_exit_status;
  m_callbacks->channel_exit_signal_function = &SshChannel::on_exit_signal;
  ssh_callbacks_init(m_callbacks.get());
  if (ssh_set_channel_callbacks(m_channel.get(), m_callbacks.get()) != SSH_OK) {
    fail("cannot register exit callbacks for");
  }
  if (ssh_channel_request_exec(m_channel.get(), m_command.c_str()) != SSH_OK) {
    fail("the server refused to run");
  }
  m_session.note_inbound();
}

void SshChannel::on_exit_status(ssh_session_struct*, ssh_channel_struct*, int status, void* self) {
  static_cast<SshChannel*>(self)->m_exit = ExitStatus{status, {}};
}

void SshChannel::on_exit_signal(ssh_session_struct*, ssh_channel_struct*, const char* signal, int, const char*,
                                const char*, void* self) {
  static_cast<SshChannel*>(self)->m_exit = ExitStatus{-1, signal != nullptr ? signal : "?"};
}

bool SshChannel::drain() {
  std::array<char, k_read_chunk> buffer{};
  bool got = false;
  auto doing = [&] { return "reading output of " + quoted(m_command); };
  // stderr first: libssh processes incoming packets inside the stdout read, and stderr that
  // precedes stdout should reach the callback first.
  for (int is_stderr : {1, 0, 1}) {
    for (;;) {
      int n = ssh_channel_read_nonblocking(m_channel.get(), buffer.data(), buffer.size(), is_stderr);
      if (n > 0) {
        got = true;
        if (is_stderr != 0) {
          feed_stderr(buffer.data(), static_cast<std::size_t>(n));
        } else {
          if (m_stdout_pos > 0 && m_stdout_pos >= m_stdout.size() / 2) {
            m_stdout.erase(0, m_stdout_pos);
            m_scan_pos -= m_stdout_pos;
            m_stdout_pos = 0;
          }
          m_stdout.append(buffer.data(), static_cast<std::size_t>(n));
        }
        continue;
      }
      if (n == SSH_EOF) {
        if (is_stderr == 0) {
          m_stdout_eof = true;
        }
      } else if (n == SSH_ERROR) {
        m_session.throw_lost(doing());
      }
      break;
    }
  }
  if (!m_stdout_eof && (ssh_channel_is_eof(m_channel.get()) != 0 || ssh_channel_is_closed(m_channel.get()) != 0) &&
      ssh_channel_poll(m_channel.get(), 0) <= 0) {
    m_stdout_eof = true;
  }
  if (m_stdout_eof) {
    flush_stderr();
  }
  if (got) {
    m_session.note_inbound();
  }
  return got;
}

void SshChannel::wait_step(Clock::time_point deadline, std::string_view doing) {
  auto now = Clock::now();
  if (now >= m_deadline) {
    throw SshError(SshFailure::timed_out, "timed out " + std::string(doing) + " " + quoted(m_command) + " on " +
                                              m_session.describe() + ": it ran past its limit of " +
                                              std::to_string(m_within.count()) + " s");
  }
  if (now >= deadline) {
    throw SshError(SshFailure::timed_out, "timed out " + std::string(doing) + " " + quoted(m_command) + " on " +
                                              m_session.describe());
  }
  deadline = std::min(deadline, m_deadline);
  m_session.check_alive(std::string(doing) + " " + quoted(m_command));
  auto wait = std::min<Clock::duration>({k_slice, deadline - now, m_session.until_keepalive()});
  m_session.wait_readable(std::chrono::duration_cast<std::chrono::milliseconds>(wait) + std::chrono::milliseconds(1));
}

void SshChannel::feed_stderr(const char* data, std::size_t size) {
  m_stderr_partial.append(data, size);
  std::size_t start = 0;
  for (;;) {
    std::size_t newline = m_stderr_partial.find('\n', start);
    if (newline == std::string::npos) {
      break;
    }
    if (m_on_stderr_line) {
      m_on_stderr_line(std::string_view(m_stderr_partial).substr(start, newline - start));
    }
    start = newline + 1;
  }
  m_stderr_partial.erase(0, start);
  // A remote that never ends its stderr line must not grow memory without bound.
  if (m_stderr_partial.size() > k_max_stderr_line) {
    flush_stderr();
  }
}

void SshChannel::flush_stderr() {
  if (!m_stderr_partial.empty() && m_on_stderr_line) {
    m_on_stderr_line(m_stderr_partial);
  }
  m_stderr_partial.clear();
}

void SshChannel::write(std::string_view data) {
  while (!data.empty()) {
    drain();
    if (ssh_channel_is_closed(m_channel.get()) != 0 || ssh_channel_is_open(m_channel.get()) == 0) {
      throw SshError(SshFailure::channel_failed, "remote command " + quoted(m_command) + " on " + m_session.describe() +
                                                     " closed its channel before reading all input (" +
                                                     std::to_string(data.size()) + " bytes left)");
    }
    // Never let ssh_channel_write wait for window itself: it would not drain our stdout, and a
    // remote blocked on writing its stdout stops reading its stdin.
    uint32_t window = ssh_channel_window_size(m_channel.get());
    if (window == 0) {
      wait_step(k_channel_deadline, "writing input to");
      continue;
    }
    auto size = static_cast<uint32_t>(std::min<std::size_t>({data.size(), window, k_max_write}));
    int written = ssh_channel_write(m_channel.get(), data.data(), size);
    if (written < 0) {
      m_session.throw_lost("writing input to " + quoted(m_command));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
}

void SshChannel::send_eof() {
  detail::check(m_session.handle(), ssh_channel_send_eof(m_channel.get()),
                ssh_is_connected(m_session.handle()) != 0 ? SshFailure::channel_failed : SshFailure::connection_lost,
                "sending EOF to " + quoted(m_command), m_session.describe());
}

std::optional<std::string> SshChannel::read_line(std::size_t max_line, std::chrono::seconds timeout) {
  auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
  for (;;) {
    std::size_t newline = m_stdout.find('\n', std::max(m_scan_pos, m_stdout_pos));
    std::size_t length = (newline == std::string::npos ? m_stdout.size() : newline) - m_stdout_pos;
    if (length > max_line) {
      throw fleet::ProtocolError("a line of output from " + quoted(m_command) + " on " + m_session.describe() +
                                 " exceeds the limit of " + std::to_string(max_line) + " bytes");
    }
    if (newline != std::string::npos) {
      std::string line = m_stdout.substr(m_stdout_pos, length);
      m_stdout_pos = newline + 1;
      m_scan_pos = m_stdout_pos;
      return line;
    }
    m_scan_pos = m_stdout.size();
    if (m_stdout_eof) {
      if (length == 0) {
        return std::nullopt;
      }
      std::string line = m_stdout.substr(m_stdout_pos);
      m_stdout_pos = m_stdout.size();
      m_scan_pos = m_stdout_pos;
      return line;
    }
    if (!drain()) {
      if (!m_stdout_eof) {
        wait_step(deadline, "waiting for output of");
      }
    }
  }
}

std::string SshChannel::read_all(std::size_t max_bytes) {
  for (;;) {
    if (buffered() > max_bytes) {
      throw fleet::ProtocolError("output of " + quoted(m_command) + " on " + m_session.describe() +
                                 " exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    }
    if (m_stdout_eof) {
      break;
    }
    if (!drain() && !m_stdout_eof) {
      wait_step(k_channel_deadline, "waiting for output of");
    }
  }
  std::string rest = m_stdout.substr(m_stdout_pos);
  m_stdout.clear();
  m_stdout_pos = 0;
  m_scan_pos = 0;
  return rest;
}

ExitStatus SshChannel::wait_exit() {
  ssh_session s = m_session.handle();
  for (;;) {
    drain();
    if (m_exit || ssh_channel_is_closed(m_channel.get()) != 0) {
      break;
    }
    // After EOF, the channel reads no longer pump the socket; a nonblocking exit-status query
    // does, and our callbacks record what arrives.
    ssh_set_blocking(s, 0);
    ssh_channel_get_exit_status(m_channel.get());
    ssh_set_blocking(s, 1);
    if (m_exit || ssh_channel_is_closed(m_channel.get()) != 0) {
      break;
    }
    if (ssh_is_connected(s) == 0) {
      m_session.throw_lost("waiting for " + quoted(m_command) + " to exit");
    }
    wait_step(k_channel_deadline, "waiting for the exit of");
  }
  flush_stderr();
  return m_exit.value_or(ExitStatus{});
}

}  // namespace fleet::ssh
