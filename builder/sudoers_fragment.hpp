// SPDX-License-Identifier: MIT
#pragma once

#include "builder/privilege.hpp"

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// `fleet-builder sudoers USER`: the sudo rules a non-root deploy user needs, written from the
// privileged-command list, for hosts whose sudoers are not made by nix/builder-module.nix.
namespace fleet::builder {

// `command` with the characters sudoers reads specially inside a command (`\`, `,`, `:`, `=`)
// escaped by a backslash.
std::string sudoers_escape(std::string_view command);

// A literal path as a sudoers pattern value; throws ConfigError when sudoers could not match it
// literally (not absolute, or holding whitespace, a wildcard or a backslash). `what` names it.
std::string sudoers_literal(const std::filesystem::path& path, std::string_view what);

// The values on a host whose agent is `own_path`: AGENT is any store path's
// bin/fleet-builder (the agent a build node brings) and own_path unless it is in the store;
// SYSTEMD_RUN is NixOS's and `systemd_run_on_path` (when found); STATE_DIR is `state_dir`.
PlaceholderValues host_placeholder_values(const std::filesystem::path& own_path,
                                          const std::optional<std::filesystem::path>& systemd_run_on_path,
                                          const std::filesystem::path& state_dir);

// Writes the fragment for `user`: a comment saying where it comes from, `Defaults:USER
// !requiretty`, then per entry its why as a comment and one `USER ALL=(root) NOPASSWD: CMD`
// line per expansion.
void write_sudoers_fragment(std::ostream& out, const std::string& user, const std::vector<PrivilegedCommand>& commands,
                            const PlaceholderValues& values);

// `fleet-builder sudoers USER [--state-dir DIR]` for this binary: `state_dir` empty means
// USER's default_state_dir_for() its passwd entry. Throws ConfigError (exit 2) for a user name
// that is not a POSIX one, an unknown user or an unusable state dir.
void run_sudoers(const std::string& user, const std::string& state_dir, std::ostream& out);

}  // namespace fleet::builder
