// SPDX-License-Identifier: MIT
#include "uploader/ssh/ssh_target.hpp"

#include "uploader/base/error.hpp"
#include "uploader/ssh/ssh_handles.hpp"

#include <string_view>

namespace fleet::ssh {

namespace {

// Mirrors Nix's checkValidAuthority: a leading '-' would turn a host or user into an ssh option
// wherever the value ends up on a command line (ssh-keyscan hints, ProxyCommand %h expansion).
void check_word(std::string_view field, std::string_view value, std::string_view forbidden) {
  if (value.empty()) {
    throw fleet::ConfigError(std::string(field) + " must not be empty");
  }
  if (value.front() == '-') {
    throw fleet::ConfigError(std::string(field) + " '" + std::string(value) + "' must not start with '-'");
  }
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      throw fleet::ConfigError(std::string(field) + " '" + std::string(value) +
                               "' must not contain whitespace or control characters");
    }
    if (forbidden.find(c) != std::string_view::npos) {
      throw fleet::ConfigError(std::string(field) + " '" + std::string(value) + "' must not contain '" +
                               std::string(1, c) + "'");
    }
  }
}

}  // namespace

void validate(const SshTarget& target) {
  // '@' in the host would be split off by libssh as a user name; the user goes in "user".
  check_word("ssh host", target.host, "@/\\'\"`$;");
  if (target.host.find('_') != std::string::npos) {
    // libssh 0.10 parses SSH_OPTIONS_HOST as a URI host and fails on '_' without saying why,
    // even when the name is only a ~/.ssh/config alias.
    throw fleet::ConfigError("ssh host '" + target.host +
                             "' must not contain '_': libssh 0.10 rejects it, even as a ~/.ssh/config Host alias; "
                             "rename the alias (e.g. '-' instead of '_')");
  }
  if (!target.user.empty()) {
    check_word("ssh user", target.user, "@:/\\'\"`$;");
  }
  if (target.port < 0 || target.port > 65535) {
    throw fleet::ConfigError("ssh port " + std::to_string(target.port) + " of host '" + target.host +
                             "' is outside 1..65535 (0 means: from ~/.ssh/config, else 22)");
  }
  if (!target.pinned_host_key.empty()) {
    detail::parse_public_key(target.pinned_host_key, "hostKey of '" + target.host + "'");
  }
}

}  // namespace fleet::ssh
