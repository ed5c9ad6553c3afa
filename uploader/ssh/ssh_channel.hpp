// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct ssh_channel_struct;
struct ssh_session_struct;
struct ssh_channel_callbacks_struct;

namespace fleet::ssh {

class SshSession;

// How a remote command ended: code 0..255, or code -1 with the signal name ("TERM", "KILL")
// when it was killed; code -1 and no signal when the channel closed without saying.
struct ExitStatus {
  int code = -1;
  std::string signal;
  bool operator==(const ExitStatus&) const = default;
};

// "exit status 7" or "signal TERM", for messages.
std::string describe(const ExitStatus& status);

// One remote command on an exec channel: stdin out, stdout lines in, stderr lines to a callback,
// exit status at the end. Blocking; used by one thread at a time together with its session, and
// must be destroyed before the SshSession that made it.
class SshChannel {
public:
  SshChannel(const SshChannel&) = delete;
  SshChannel& operator=(const SshChannel&) = delete;
  ~SshChannel();  // closes and frees the channel; the remote command sees EOF/SIGHUP if still running

  // Every wait below ends at the channel's deadline (SshSession::exec's `within`) at the latest,
  // with SshError timed_out naming the limit.

  // Writes all of `data` to the remote stdin, blocking while the remote window is full; stdout
  // arriving meanwhile is buffered, so a chatty remote never deadlocks the upload. Throws
  // SshError connection_lost (session died, peer silent) or channel_failed (remote closed stdin).
  void write(std::string_view data);

  // Tells the remote command that stdin is finished.
  void send_eof();

  // The next complete stdout line without '\n' (a last unterminated line is returned at EOF), or
  // std::nullopt at EOF. Waits in short slices with keepalives; throws SshError connection_lost
  // when the session dies or the peer is silent for dead_peer_seconds, SshError timed_out when
  // `timeout` (0 = only the channel's deadline) passes, and fleet::ProtocolError for a line
  // longer than `max_line`.
  std::optional<std::string> read_line(std::size_t max_line = 1 << 20,
                                       std::chrono::seconds timeout = std::chrono::seconds{0});

  // Everything left on stdout until EOF. Throws fleet::ProtocolError beyond `max_bytes`.
  std::string read_all(std::size_t max_bytes = 16 << 20);

  // Waits for the exit status (reading and buffering any stdout still coming). Uses libssh's
  // exit-status/exit-signal callbacks, since ssh_channel_get_exit_status cannot tell a signal
  // from an error.
  ExitStatus wait_exit();

private:
  friend class SshSession;
  struct ChannelFree {
    void operator()(ssh_channel_struct* channel) const noexcept;
  };
  struct CallbacksFree {
    void operator()(ssh_channel_callbacks_struct* callbacks) const noexcept;
  };

  using Clock = std::chrono::steady_clock;

  SshChannel(SshSession& session, std::string command, std::chrono::seconds within,
             std::function<void(std::string_view)> on_stderr_line);
  void open();
  // Moves what libssh has for this channel into our buffers without waiting; true if data came.
  bool drain();
  // One wait step: returns when data may have arrived, a slice passed, or throws.
  // `deadline` is one call's own; the channel's applies too.
  void wait_step(Clock::time_point deadline, std::string_view doing);
  void feed_stderr(const char* data, std::size_t size);
  void flush_stderr();
  std::size_t buffered() const { return m_stdout.size() - m_stdout_pos; }

  static void on_exit_status(ssh_session_struct* session, ssh_channel_struct* channel, int status, void* self);
  static void on_exit_signal(ssh_session_struct* session, ssh_channel_struct* channel, const char* signal,
                             int core, const char* errmsg, const char* lang, void* self);

  SshSession& m_session;
  std::string m_command;
  std::chrono::seconds m_within;
  Clock::time_point m_deadline;
  std::function<void(std::string_view)> m_on_stderr_line;
  // Declared before m_channel so the channel is freed before its callbacks.
  std::unique_ptr<ssh_channel_callbacks_struct, CallbacksFree> m_callbacks;
  std::unique_ptr<ssh_channel_struct, ChannelFree> m_channel;
  std::string m_stdout;
  std::size_t m_stdout_pos = 0;   // start of unread stdout
  std::size_t m_scan_pos = 0;     // no '\n' before this offset
  bool m_stdout_eof = false;
  std::string m_stderr_partial;
  std::optional<ExitStatus> m_exit;
};

}  // namespace fleet::ssh
