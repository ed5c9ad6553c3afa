// SPDX-License-Identifier: MIT
#pragma once

// Internal to uploader/ssh: owning wrappers for libssh handles and the one place that turns
// libssh return codes into SshError. Not included by public headers so that users of the
// transport need not see libssh.

#include "uploader/ssh/ssh_error.hpp"

#include <libssh/libssh.h>

#include <memory>
#include <string>
#include <string_view>

namespace fleet::ssh::detail {

struct KeyFree {
  void operator()(ssh_key key) const noexcept { ssh_key_free(key); }
};
// An owned ssh_key.
using KeyHandle = std::unique_ptr<ssh_key_struct, KeyFree>;

struct CStringFree {
  void operator()(char* text) const noexcept { ssh_string_free_char(text); }
};
// A string libssh allocated and the caller must free.
using CString = std::unique_ptr<char, CStringFree>;

// libssh's last error text for `session`, or "unknown error" when it has none.
std::string last_error(ssh_session session);

// Throws SshError(kind, "<what> for <where>: <libssh error>") unless rc == SSH_OK.
void check(ssh_session session, int rc, SshFailure kind, std::string_view what, std::string_view where);

// Parses an OpenSSH public key line "<type> <base64> [comment]". Throws fleet::ConfigError
// naming `field` when it is malformed or of a type libssh does not know.
KeyHandle parse_public_key(std::string_view line, std::string_view field);

// "SHA256:<base64>" of a public key, as ssh-keygen -l prints it.
std::string fingerprint_of(ssh_key key);

// "<type> <base64>" of a public key, as it would appear in fleet.json hostKey.
std::string openssh_line_of(ssh_key key);

}  // namespace fleet::ssh::detail
