// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>
#include <vector>

// The one list of commands the agent runs as root through sudo: nix/privileged-commands.json,
// compiled into the binary and read by nix/builder-module.nix too, so the sudo rules a node is
// given and the commands the agent runs cannot drift apart.
namespace fleet::builder {

// One entry of the list. `pattern` uses sudoers wildcards (see sudoers_pattern_matches()) and
// the placeholders @AGENT@, @SYSTEMD_RUN@ and @STATE_DIR@, each an absolute path.
struct PrivilegedCommand {
  std::string name;
  std::string why;  // one line, printed above the entry's rules by `fleet-builder sudoers`
  std::string pattern;
};

// The list compiled into this binary.
const std::vector<PrivilegedCommand>& privileged_commands();

// Parses and checks a list in the JSON form of nix/privileged-commands.json; throws
// InternalError naming the entry when one is malformed (the file is part of the source).
std::vector<PrivilegedCommand> parse_privileged_commands(std::string_view json);

// Whether sudo would let a rule for `pattern` (no placeholders) run `argv`, as sudoers(5)
// matches: the first word against argv[0], where `*` stays within one path component; the rest
// against argv[1..] joined by single spaces, where `*` matches any run of characters, spaces
// included. `\` makes the next character literal.
bool sudoers_pattern_matches(std::string_view pattern, const std::vector<std::string>& argv);

// The entry of `commands` that allows `argv`, each placeholder standing for one absolute path
// without spaces, the same at each of its uses; nullptr when none does.
const PrivilegedCommand* find_privileged_command(const std::vector<PrivilegedCommand>& commands,
                                                 const std::vector<std::string>& argv);

// The sudoers patterns each placeholder stands for in the rules; a value may itself be a glob
// (`/nix/store/*/bin/fleet-builder`).
struct PlaceholderValues {
  std::vector<std::string> agent;
  std::vector<std::string> systemd_run;
  std::vector<std::string> state_dir;
};

// `pattern` with its placeholders replaced, once for every combination of values (a placeholder
// takes the same value at each of its uses), in the order of the values, without duplicates.
std::vector<std::string> expand_placeholders(const std::string& pattern, const PlaceholderValues& values);

// `sudo -n -- argv…`, after checking argv against privileged_commands(); throws InternalError
// naming the command when the list lacks it, since sudo would refuse it on every node.
std::vector<std::string> sudo_argv(std::vector<std::string> argv);

}  // namespace fleet::builder
