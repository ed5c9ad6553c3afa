// SPDX-License-Identifier: MIT
#include "uploader/ssh/ssh_session.hpp"

#include "uploader/base/error.hpp"
#include "uploader/ssh/ssh_handles.hpp"

#include <libssh/libssh.h>
#include <libssh/server.h>  // ssh_send_keepalive lives here in 0.10, and works for clients too

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <unistd.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>

namespace fleet::ssh {

using detail::CString;
using detail::KeyHandle;

namespace {

std::string option_string(ssh_session session, enum ssh_options_e option) {
  char* value = nullptr;
  if (ssh_options_get(session, option, &value) != SSH_OK || value == nullptr) {
    return {};
  }
  CString owned(value);
  return owned.get();
}

void set_option(ssh_session session, enum ssh_options_e option, const void* value, std::string_view name,
                std::string_view where) {
  detail::check(session, ssh_options_set(session, option, value), SshFailure::unreachable,
                "setting ssh option " + std::string(name), where);
}

// The host key algorithms that can present `key`, so that a pinned key is what the server sends.
std::string host_key_algorithms(ssh_key key) {
  enum ssh_keytypes_e type = ssh_key_type(key);
  if (type == SSH_KEYTYPE_RSA) {
    return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
  }
  const char* name = ssh_key_type_to_char(type);
  return name != nullptr ? name : "";
}

std::string local_user_name() {
  struct passwd entry {};
  struct passwd* result = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &result) != 0 || result == nullptr) {
    return {};
  }
  return result->pw_name;
}

}  // namespace

void SshSession::SessionFree::operator()(ssh_session_struct* session) const noexcept {
  if (ssh_is_connected(session) != 0) {
    ssh_disconnect(session);
  }
  ssh_free(session);
}

SshSession::SshSession(ssh_session_struct* session, const SshOptions& options)
    : m_session(session), m_options(options), m_last_inbound(Clock::now()), m_last_keepalive(Clock::now()) {}

SshSession::~SshSession() = default;

std::unique_ptr<SshSession> SshSession::connect(const SshTarget& target, const SshOptions& options) {
  validate(target);
  if (!options.config_file.empty() && !std::filesystem::exists(options.config_file)) {
    throw fleet::ConfigError("ssh config file '" + options.config_file + "' does not exist");
  }
  ssh_session raw = ssh_new();
  if (raw == nullptr) {
    throw SshError(SshFailure::unreachable, "cannot allocate an ssh session for '" + target.host + "'");
  }
  std::unique_ptr<SshSession> session(new SshSession(raw, options));
  session->configure(target);
  ssh_session s = session->handle();
  auto started = Clock::now();
  if (ssh_connect(s) != SSH_OK) {
    std::string error = detail::last_error(s);
    // A pinned key whose type the server does not offer fails in key exchange, not in verification.
    if (!target.pinned_host_key.empty() && error.find("host key") != std::string::npos) {
      throw SshError(SshFailure::host_key_changed,
                     "host " + session->m_description + " offers no host key of the pinned type (hostKey '" +
                         target.pinned_host_key + "'): " + error +
                         ". This may be an attack or a reinstalled host: check its key out of band, then fix hostKey");
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    throw SshError(SshFailure::unreachable, "cannot connect to " + session->m_description + ": " + error + " (after " +
                                                std::to_string(waited) + " ms; connect timeout " +
                                                std::to_string(options.connect_timeout_seconds) + " s)");
  }
  session->note_inbound();
  session->describe_resolved(target.host);
  session->set_socket_options();
  session->verify_host_key(target);
  session->authenticate();
  session->m_last_keepalive = Clock::now();
  return session;
}

void SshSession::configure(const SshTarget& target) {
  ssh_session s = handle();
  const std::string& where = target.host;
  // HOST first: the config's Host/Match blocks are chosen by it. Then the config, then our
  // explicit values, which must win; ssh_connect must not parse the config again over them.
  if (ssh_options_set(s, SSH_OPTIONS_HOST, target.host.c_str()) != SSH_OK) {
    throw fleet::ConfigError("ssh host '" + target.host + "' is not a host name or address libssh accepts");
  }
  const char* config = m_options.config_file.empty() ? nullptr : m_options.config_file.c_str();
  if (ssh_options_parse_config(s, config) != SSH_OK) {
    throw fleet::ConfigError("cannot parse ssh config " + (config != nullptr ? "'" + m_options.config_file + "'" :
                                                                               std::string("~/.ssh/config")) +
                             " for host '" + target.host + "': " + detail::last_error(s));
  }
  bool process_config = false;
  set_option(s, SSH_OPTIONS_PROCESS_CONFIG, &process_config, "process-config", where);
  if (!target.user.empty()) {
    set_option(s, SSH_OPTIONS_USER, target.user.c_str(), "user", where);
  }
  if (target.port != 0) {
    unsigned int port = static_cast<unsigned int>(target.port);
    set_option(s, SSH_OPTIONS_PORT, &port, "port", where);
  }
  if (!m_options.known_hosts_file.empty()) {
    set_option(s, SSH_OPTIONS_KNOWNHOSTS, m_options.known_hosts_file.c_str(), "known-hosts", where);
  }
  if (!target.pinned_host_key.empty()) {
    KeyHandle pinned = detail::parse_public_key(target.pinned_host_key, "hostKey of '" + target.host + "'");
    std::string algorithms = host_key_algorithms(pinned.get());
    set_option(s, SSH_OPTIONS_HOSTKEYS, algorithms.c_str(), "host-key algorithms", where);
  }
  // Nagle + delayed ACK cost ~40 ms per small round trip (connect 58 → 22 ms on loopback).
  int nodelay = 1;
  set_option(s, SSH_OPTIONS_NODELAY, &nodelay, "nodelay", where);
  long timeout = std::max(1, m_options.connect_timeout_seconds);
  set_option(s, SSH_OPTIONS_TIMEOUT, &timeout, "timeout", where);
  // libssh logs to stderr, which belongs to the progress view.
  int verbosity = SSH_LOG_NOLOG;
  set_option(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity, "log verbosity", where);

  describe_resolved(target.host);
}

void SshSession::describe_resolved(const std::string& fallback_host) {
  ssh_session s = handle();
  std::string user = option_string(s, SSH_OPTIONS_USER);
  if (user.empty()) {
    user = local_user_name();  // what libssh itself falls back to when it connects
  }
  unsigned int port = 22;
  ssh_options_get_port(s, &port);
  std::string host = option_string(s, SSH_OPTIONS_HOST);
  m_description = (user.empty() ? std::string() : user + "@") + (host.empty() ? fallback_host : host) + ":" +
                  std::to_string(port);
  m_verified.host = host.empty() ? fallback_host : host;
  m_verified.user = user;
  m_verified.port = static_cast<int>(port);
}

void SshSession::set_socket_options() {
  int fd = ssh_get_fd(handle());
  int domain = 0;
  socklen_t length = sizeof domain;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 ||
      (domain != AF_INET && domain != AF_INET6)) {
    return;  // a ProxyCommand socketpair: the proxy process owns the TCP connection
  }
  m_tcp = true;
  // The kernel notices a vanished peer (netns gone, cable pulled) even while libssh blocks in a
  // write: keepalive probes for an idle socket, TCP_USER_TIMEOUT for unacknowledged data.
  // Failures are not fatal; the ssh-level keepalive still runs.
  int interval = std::max(1, m_options.keepalive_interval_seconds);
  int count = std::max(1, m_options.dead_peer_seconds / interval);
  unsigned int user_timeout_ms = static_cast<unsigned int>(std::max(1, m_options.dead_peer_seconds)) * 1000U;
  int on = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &interval, sizeof interval);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void SshSession::verify_host_key(const SshTarget& target) {
  ssh_session s = handle();
  ssh_key raw = nullptr;
  detail::check(s, ssh_get_server_publickey(s, &raw), SshFailure::unreachable, "reading the server host key",
                m_description);
  KeyHandle server(raw);
  m_fingerprint = detail::fingerprint_of(server.get());
  std::string server_line = detail::openssh_line_of(server.get());
  m_verified.pinned_host_key = server_line;
  std::string got = server_line.substr(0, server_line.find(' ')) + " " + m_fingerprint;
  const std::string attack = " This may be a man-in-the-middle attack, or the host was reinstalled: check the "
                             "new key out of band before trusting it.";

  if (!target.pinned_host_key.empty()) {
    KeyHandle pinned = detail::parse_public_key(target.pinned_host_key, "hostKey of '" + target.host + "'");
    if (ssh_key_cmp(server.get(), pinned.get(), SSH_KEY_CMP_PUBLIC) != 0) {
      throw SshError(SshFailure::host_key_changed,
                     "host key of " + m_description + " does not match hostKey in fleet.json: expected " +
                         detail::fingerprint_of(pinned.get()) + ", got " + got + "." + attack +
                         " If the new key is right, set hostKey to \"" + server_line + "\".");
    }
    return;
  }

  std::string known_hosts = option_string(s, SSH_OPTIONS_KNOWNHOSTS);
  if (known_hosts.empty()) {
    known_hosts = "~/.ssh/known_hosts";
  }
  std::string host = option_string(s, SSH_OPTIONS_HOST);
  unsigned int port = 22;
  ssh_options_get_port(s, &port);
  // Never written here: accepting a key is a decision for a person, not for a deploy run.
  enum ssh_known_hosts_e state = ssh_session_is_known_server(s);
  switch (state) {
  case SSH_KNOWN_HOSTS_OK:
    return;
  case SSH_KNOWN_HOSTS_UNKNOWN:
  case SSH_KNOWN_HOSTS_NOT_FOUND:
    throw SshError(SshFailure::host_key_unknown,
                   "host " + m_description + " is not in " + known_hosts + "; it presents " + got +
                       ". After checking that fingerprint out of band, run `ssh-keyscan -p " + std::to_string(port) +
                       " " + host + " >> " + known_hosts + "`, or set hostKey to \"" + server_line +
                       "\" for this host in fleet.json.");
  case SSH_KNOWN_HOSTS_CHANGED:
  case SSH_KNOWN_HOSTS_OTHER: {
    struct ssh_knownhosts_entry* entry = nullptr;
    ssh_session_get_known_hosts_entry(s, &entry);
    std::string expected = "a key of another type";
    if (entry != nullptr) {
      if (entry->publickey != nullptr) {
        std::string line = detail::openssh_line_of(entry->publickey);
        expected = line.substr(0, line.find(' ')) + " " + detail::fingerprint_of(entry->publickey);
      }
      ssh_knownhosts_entry_free(entry);
    }
    throw SshError(SshFailure::host_key_changed,
                   "HOST KEY CHANGED for " + m_description + ": " + known_hosts + " has " + expected + ", the server sent " +
                       got + "." + attack + " If the new key is right, remove the old line (`ssh-keygen -R '[" +
                       host + "]:" + std::to_string(port) + "' -f " + known_hosts + "`) and add the new one.");
  }
  case SSH_KNOWN_HOSTS_ERROR:
    break;
  }
  throw SshError(SshFailure::host_key_unknown, "cannot check the host key of " + m_description + " against " +
                                                   known_hosts + ": " + detail::last_error(s));
}

void SshSession::authenticate() {
  ssh_session s = handle();
  int rc = ssh_userauth_none(s, nullptr);
  if (rc == SSH_AUTH_SUCCESS) {
    return;
  }
  if (rc == SSH_AUTH_ERROR) {
    throw_lost("authenticating");
  }
  int methods = ssh_userauth_list(s, nullptr);
  std::string tried = "none";
  if ((methods & SSH_AUTH_METHOD_PUBLICKEY) != 0) {
    // The agent (SSH_AUTH_SOCK or the config's IdentityAgent) first, then the identity files.
    // Without auth callbacks libssh never prompts, so an encrypted key without agent is skipped.
    rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
    if (rc == SSH_AUTH_SUCCESS) {
      return;
    }
    if (rc == SSH_AUTH_ERROR) {
      throw_lost("authenticating with public keys");
    }
    const char* agent = std::getenv("SSH_AUTH_SOCK");
    std::string identity = option_string(s, SSH_OPTIONS_IDENTITY);
    tried += std::string(", publickey via ") +
             (agent != nullptr && *agent != '\0' ? "ssh-agent at " + std::string(agent) : "no ssh-agent (SSH_AUTH_SOCK unset)") +
             " and identity files (" + (identity.empty() ? "~/.ssh/id_*" : identity + " and the defaults") + ")";
    if (rc == SSH_AUTH_PARTIAL) {
      tried += " — accepted only partially, the server wants a second factor";
    }
  }
  std::string offered;
  auto add = [&](int bit, const char* name) {
    if ((methods & bit) != 0) {
      offered += offered.empty() ? name : std::string(", ") + name;
    }
  };
  add(SSH_AUTH_METHOD_PUBLICKEY, "publickey");
  add(SSH_AUTH_METHOD_PASSWORD, "password");
  add(SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive");
  add(SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic");
  add(SSH_AUTH_METHOD_HOSTBASED, "hostbased");
  throw SshError(SshFailure::auth_failed,
                 "authentication to " + m_description + " failed; tried " + tried + "; the server offers " +
                     (offered.empty() ? std::string("nothing") : offered) +
                     ". Passwords are never used: put a key in the remote user's authorized_keys and load it "
                     "into ssh-agent or name it with IdentityFile in ~/.ssh/config.");
}

std::unique_ptr<SshChannel> SshSession::exec(const std::string& command, std::chrono::seconds within,
                                             std::function<void(std::string_view)> on_stderr_line) {
  std::unique_ptr<SshChannel> channel(new SshChannel(*this, command, within, std::move(on_stderr_line)));
  channel->open();
  return channel;
}

bool SshSession::keepalive() {
  ssh_session s = handle();
  if (ssh_is_connected(s) == 0) {
    return false;
  }
  auto started = Clock::now();
  // Blocking mode: sends keepalive@openssh.com with want_reply and waits for the answer for at
  // most SSH_OPTIONS_TIMEOUT; it always returns SSH_OK, so the answer is judged from TCP_INFO
  // (time since the last data segment) or, on a proxy socketpair, by timing.
  ssh_send_keepalive(s);
  m_last_keepalive = Clock::now();
  if (ssh_is_connected(s) == 0) {
    return false;
  }
  if (m_tcp) {
    refresh_inbound_from_kernel();
  } else if (m_last_keepalive - started < std::chrono::milliseconds(std::max(1, m_options.connect_timeout_seconds) * 900)) {
    note_inbound();  // returned before its timeout, so the answer came
  }
  return m_last_keepalive - m_last_inbound <= std::chrono::seconds(m_options.dead_peer_seconds);
}

void SshSession::refresh_inbound_from_kernel() {
  if (!m_tcp) {
    return;
  }
  struct tcp_info info {};
  socklen_t length = sizeof info;
  if (getsockopt(ssh_get_fd(handle()), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) {
    return;
  }
  auto last = Clock::now() - std::chrono::milliseconds(info.tcpi_last_data_recv);
  m_last_inbound = std::max(m_last_inbound, last);
}

SshSession::Clock::duration SshSession::until_keepalive() const {
  auto due = m_last_keepalive + std::chrono::seconds(std::max(1, m_options.keepalive_interval_seconds));
  return std::max(Clock::duration::zero(), due - Clock::now());
}

void SshSession::check_alive(std::string_view doing) {
  if (ssh_is_connected(handle()) == 0) {
    throw_lost(doing);
  }
  bool alive = true;
  if (until_keepalive() == Clock::duration::zero()) {
    alive = keepalive();
    if (ssh_is_connected(handle()) == 0) {
      throw_lost(doing);
    }
  } else {
    refresh_inbound_from_kernel();
    alive = Clock::now() - m_last_inbound <= std::chrono::seconds(m_options.dead_peer_seconds);
  }
  if (!alive) {
    auto silent = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - m_last_inbound).count();
    throw SshError(SshFailure::connection_lost,
                   "connection to " + m_description + " lost while " + std::string(doing) + ": no answer for " +
                       std::to_string(silent) + " s although keepalives were sent every " +
                       std::to_string(m_options.keepalive_interval_seconds) +
                       " s; the host is down, hung, or the network path is cut");
  }
}

bool SshSession::wait_readable(std::chrono::milliseconds wait) {
  ssh_session s = handle();
  if ((ssh_get_poll_flags(s) & SSH_WRITE_PENDING) != 0) {
    ssh_blocking_flush(s, static_cast<int>(wait.count()));
  }
  struct pollfd entry {};
  entry.fd = ssh_get_fd(s);
  entry.events = POLLIN;
  int rc = poll(&entry, 1, static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, wait.count())));
  if (rc > 0) {
    note_inbound();
    return true;
  }
  return false;
}

void SshSession::throw_lost(std::string_view doing) const {
  throw SshError(SshFailure::connection_lost, "connection to " + m_description + " lost while " + std::string(doing) +
                                                  ": " + detail::last_error(m_session.get()));
}

}  // namespace fleet::ssh
