// SPDX-License-Identifier: MIT
#pragma once

#include "uploader/base/error.hpp"

#include <string>
#include <string_view>

namespace fleet::ssh {

// Why an SSH operation failed; the coordinator decides from this whether to retry, reassign the
// node's work to another builder, or stop and ask a person (host keys).
enum class SshFailure {
  unreachable,       // TCP connect, DNS, proxy command or key exchange failed
  host_key_unknown,  // the host is not in known_hosts and no hostKey is pinned
  host_key_changed,  // known_hosts or the pinned hostKey disagrees with the server: maybe an attack
  auth_failed,       // no offered key was accepted
  connection_lost,   // the session died or the peer stopped answering keepalives
  channel_failed,    // the server refused a channel or the exec request
  timed_out,         // a caller-given deadline passed; the session itself may still be fine
};

// Stable lower-case name of the failure ("host_key_changed"), for events and reports.
std::string_view to_string(SshFailure kind);

// A failure talking to one host. The message names user@host:port and, where there is one, the fix.
class SshError : public fleet::NodeError {
public:
  SshError(SshFailure kind, const std::string& message) : fleet::NodeError(message), m_kind(kind) {}

  // What kind of failure this is.
  SshFailure kind() const { return m_kind; }

private:
  SshFailure m_kind;
};

}  // namespace fleet::ssh
