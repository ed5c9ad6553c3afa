// SPDX-License-Identifier: MIT
#include "builder/sudoers_fragment.hpp"

#include "builder/agent_path.hpp"
#include "builder/build_command.hpp"
#include "uploader/base/error.hpp"

#include <cstdlib>
#include <cstring>
#include <ostream>
#include <regex>
#include <sstream>

#include <pwd.h>
#include <unistd.h>

namespace fleet::builder {

namespace {

constexpr std::string_view k_store_agent = "/nix/store/*/bin/fleet-builder";
constexpr std::string_view k_nixos_systemd_run = "/run/current-system/sw/bin/systemd-run";

void add_unique(std::vector<std::string>& values, std::string value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) {
    values.push_back(std::move(value));
  }
}

// POSIX portable user names (and the trailing `$` of machine accounts), as useradd accepts them.
void check_user_name(const std::string& user) {
  static const std::regex k_user_name("[A-Za-z_][A-Za-z0-9_.-]*\\$?");
  if (user.size() > 32 || !std::regex_match(user, k_user_name)) {
    throw ConfigError("'" + user + "' is not a user name (letters, digits, '_', '.', '-', not starting with a digit, '.' or '-')");
  }
}

struct passwd_entry {
  uid_t uid;
  std::filesystem::path home;
};

passwd_entry look_up_user(const std::string& user) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    throw ConfigError("no user '" + user + "' on this host" + (rc != 0 ? std::string(" (") + std::strerror(rc) + ")" : "") +
                      "; create it first, or name another");
  }
  return {entry.pw_uid, entry.pw_dir};
}

}  // namespace

std::string sudoers_escape(std::string_view command) {
  std::string escaped;
  for (char c : command) {
    if (c == '\\' || c == ',' || c == ':' || c == '=') {
      escaped += '\\';
    }
    escaped += c;
  }
  return escaped;
}

std::string sudoers_literal(const std::filesystem::path& path, std::string_view what) {
  const std::string text = path.string();
  if (!path.is_absolute() || text.find_first_of(" \t\n*?[]\\") != std::string::npos) {
    throw ConfigError("cannot write a sudo rule for " + std::string(what) + " '" + text +
                      "': it must be an absolute path without whitespace, wildcards (* ? [ ]) or backslashes");
  }
  return text;
}

PlaceholderValues host_placeholder_values(const std::filesystem::path& own_path,
                                          const std::optional<std::filesystem::path>& systemd_run_on_path,
                                          const std::filesystem::path& state_dir) {
  PlaceholderValues values;
  values.agent.emplace_back(k_store_agent);
  // A store path is already covered by the wildcard, and the next deployment replaces it.
  if (!own_path.string().starts_with("/nix/store/")) {
    add_unique(values.agent, sudoers_literal(own_path, "the agent"));
  }
  values.systemd_run.emplace_back(k_nixos_systemd_run);
  if (systemd_run_on_path) {
    add_unique(values.systemd_run, sudoers_literal(*systemd_run_on_path, "systemd-run"));
  }
  values.state_dir.push_back(sudoers_literal(state_dir, "the state directory"));
  return values;
}

void write_sudoers_fragment(std::ostream& out, const std::string& user, const std::vector<PrivilegedCommand>& commands,
                            const PlaceholderValues& values) {
  out << "# The commands fleet-builder runs as root for " << user
      << ", from nix/privileged-commands.json (`fleet-builder sudoers " << user << "`).\n"
      << "# Install: save as /etc/sudoers.d/fleet (no '.' or '~' in the name), mode 0440, check with visudo -cf.\n"
      << "Defaults:" << user << " !requiretty\n";
  for (const auto& entry : commands) {
    out << "\n# " << entry.name << ": " << entry.why << '\n';
    for (const auto& command : expand_placeholders(entry.pattern, values)) {
      out << user << " ALL=(root) NOPASSWD: " << sudoers_escape(command) << '\n';
    }
  }
}

void run_sudoers(const std::string& user, const std::string& state_dir, std::ostream& out) {
  check_user_name(user);
  auto entry = look_up_user(user);
  // Another user's XDG_STATE_HOME is unknown here; an agent over SSH rarely has one set.
  std::filesystem::path dir = state_dir.empty() ? default_state_dir_for(entry.uid, entry.home, "")
                                                : std::filesystem::path(state_dir);
  if (!dir.is_absolute()) {
    throw ConfigError("--state-dir must be an absolute path, got '" + state_dir + "'");
  }
  write_sudoers_fragment(out, user, privileged_commands(),
                         host_placeholder_values(agent_self_path(), find_on_path("systemd-run"), dir.lexically_normal()));
}

}  // namespace fleet::builder
