// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/ssh/ssh_channel.hpp"
#include "uploader/ssh/ssh_target.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

struct ssh_session_struct;

namespace fleet::ssh {

// One authenticated SSH connection to one host (blocking libssh). A session and its channels are
// used by one thread at a time; different sessions may run in different threads concurrently.
// ProxyJump/ProxyCommand from the ssh config work as libssh 0.10 does them: by running
// `ssh -W` (OpenSSH's own config, known_hosts and agent apply to the jump hop, and its failures
// surface only as "Connection reset by peer"); dead-peer detection then rests on that ssh.
class SshSession {
public:
  // Connects (TCP_NODELAY, connect timeout, TCP keepalive + TCP_USER_TIMEOUT), verifies the host
  // key against the pinned hostKey or known_hosts (which is never written) and authenticates with
  // ssh-agent, then the config IdentityFile / default keys; never prompts. Throws fleet::ConfigError
  // for an invalid target or an explicit config file that does not exist, and SshError
  // unreachable / host_key_unknown / host_key_changed / auth_failed with the fix in the message.
  static std::unique_ptr<SshSession> connect(const SshTarget& target, const SshOptions& options);

  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;
  ~SshSession();  // disconnects; every SshChannel of this session must be gone already

  // Starts `command` through the remote user's shell on a new exec channel. Lines the remote
  // writes to stderr go to `on_stderr_line` from the calling thread, during channel calls.
  // No call on the channel waits past `within` from now: a remote that stops reading its stdin,
  // never writes or never exits while its sshd still answers keepalives ends in SshError
  // timed_out. Throws SshError channel_failed or connection_lost.
  std::unique_ptr<SshChannel> exec(const std::string& command, std::chrono::seconds within,
                                   std::function<void(std::string_view)> on_stderr_line = {});

  // "user@host:port" as resolved through the ssh config.
  std::string describe() const { return m_description; }

  // "SHA256:…" of the server's host key.
  std::string fingerprint() const { return m_fingerprint; }

  // Where this session went once the ssh config was applied (host, user, port) and the host
  // key it verified, as "<type> <base64>": how another machine can reach the same host safely.
  const SshTarget& verified_target() const { return m_verified; }

  // Sends an ssh keepalive now and waits for its answer (at most connect_timeout_seconds);
  // false if the session is dead or the peer has been silent for dead_peer_seconds.
  bool keepalive();

private:
  friend class SshChannel;
  using Clock = std::chrono::steady_clock;
  struct SessionFree {
    void operator()(ssh_session_struct* session) const noexcept;
  };

  SshSession(ssh_session_struct* session, const SshOptions& options);
  void configure(const SshTarget& target);
  // Sets m_description from the options as libssh resolved them.
  void describe_resolved(const std::string& fallback_host);
  void set_socket_options();
  void verify_host_key(const SshTarget& target);
  void authenticate();

  ssh_session_struct* handle() const { return m_session.get(); }
  // Records that the peer sent something now.
  void note_inbound() { m_last_inbound = Clock::now(); }
  // Sends a keepalive when one is due and throws connection_lost when the peer has been silent
  // too long or the session died. `doing` goes into the message ("reading output of 'cmd'").
  void check_alive(std::string_view doing);
  // Time until check_alive wants to send the next keepalive.
  Clock::duration until_keepalive() const;
  // Waits up to `wait` for the socket to become readable; true if it did.
  bool wait_readable(std::chrono::milliseconds wait);
  // Throws SshError connection_lost with libssh's error text.
  [[noreturn]] void throw_lost(std::string_view doing) const;
  // Refreshes m_last_inbound from the kernel (TCP_INFO) when the socket is TCP.
  void refresh_inbound_from_kernel();

  std::unique_ptr<ssh_session_struct, SessionFree> m_session;
  SshOptions m_options;
  std::string m_description;
  std::string m_fingerprint;
  SshTarget m_verified;
  bool m_tcp = false;
  Clock::time_point m_last_inbound;
  Clock::time_point m_last_keepalive;
};

}  // namespace fleet::ssh
