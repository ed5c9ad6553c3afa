// SPDX-License-Identifier: MIT
#pragma once

#include <optional>
#include <string>

namespace fleet::coordinator {

// What is wrong with one value of fleet.json and how to fix it; the caller adds the file and path.
struct Problem {
  std::string problem;
  std::string fix;
};

// Each check returns std::nullopt for an acceptable value, otherwise the problem and its fix.

// Node, builder and tag names: [A-Za-z0-9_.-]+, not starting with '-'. `kind` is "node", "builder"...
std::optional<Problem> check_name(const std::string& kind, const std::string& name);
// SSH host names and users: non-empty, no whitespace or control characters, no leading '-' (which
// ssh would read as an option).
std::optional<Problem> check_host(const std::string& host);
std::optional<Problem> check_user(const std::string& user);
std::optional<Problem> check_port(long long port);
// Nix system doubles such as "x86_64-linux" or "aarch64-darwin".
std::optional<Problem> check_system(const std::string& system);
// An action name protocol::parse_action accepts: switch | boot | test | dry-activate | build.
std::optional<Problem> check_action(const std::string& action);
// One OpenSSH public key line "ssh-ed25519 AAAA… [comment]" of a known key type.
std::optional<Problem> check_host_key(const std::string& key);
// An age recipient ("age1…") or an ssh public key line.
std::optional<Problem> check_recipient(const std::string& recipient);
// A file mode written as an octal string: "0400", "640".
std::optional<Problem> check_mode(const std::string& mode);
// pre-activation | post-activation.
std::optional<Problem> check_when(const std::string& when);
// A user or group name ("root", "nginx") or a numeric id.
std::optional<Problem> check_owner(const std::string& owner);
// An absolute, normalised path outside /nix/store where a secret is installed.
std::optional<Problem> check_dest(const std::string& dest);

}  // namespace fleet::coordinator
