// SPDX-License-Identifier: MIT
#include "uploader/ssh/ssh_error.hpp"

namespace fleet::ssh {

std::string_view to_string(SshFailure kind) {
  switch (kind) {
  case SshFailure::unreachable:
    return "unreachable";
  case SshFailure::host_key_unknown:
    return "host_key_unknown";
  case SshFailure::host_key_changed:
    return "host_key_changed";
  case SshFailure::auth_failed:
    return "auth_failed";
  case SshFailure::connection_lost:
    return "connection_lost";
  case SshFailure::channel_failed:
    return "channel_failed";
  case SshFailure::timed_out:
    return "timed_out";
  }
  return "unknown";
}

}  // namespace fleet::ssh
