// SPDX-License-Identifier: MIT
#include "builder/privilege.hpp"

#include "builder/privileged_commands_json.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/process.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <optional>

namespace fleet::builder {

namespace {

constexpr std::array<std::string_view, 3> k_placeholders{"AGENT", "SYSTEMD_RUN", "STATE_DIR"};

using Bindings = std::map<std::string, std::string, std::less<>>;

// The name of the placeholder `@NAME@` starting at `at`, or nullopt when none starts there.
std::optional<std::string_view> placeholder_at(std::string_view pattern, std::size_t at) {
  if (pattern[at] != '@') {
    return std::nullopt;
  }
  auto end = pattern.find('@', at + 1);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  auto name = pattern.substr(at + 1, end - at - 1);
  for (auto known : k_placeholders) {
    if (name == known) {
      return name;
    }
  }
  return std::nullopt;
}

// A backtracking glob matcher for the few wildcards sudoers patterns use. `pathname`: `*` and
// `?` do not match `/` (the command word); `placeholders`: @NAME@ matches one absolute path
// without spaces, bound in `bindings` so later uses must repeat it.
class GlobMatch {
public:
  GlobMatch(std::string_view pattern, std::string_view text, bool pathname, bool placeholders)
      : m_pattern(pattern), m_text(text), m_pathname(pathname), m_placeholders(placeholders) {}

  bool matches(std::size_t p, std::size_t t, Bindings& bindings) const {
    if (p == m_pattern.size()) {
      return t == m_text.size();
    }
    const char c = m_pattern[p];
    if (c == '*') {
      for (std::size_t end = t;; ++end) {
        if (matches(p + 1, end, bindings)) {
          return true;
        }
        if (end == m_text.size() || !may_cross(m_text[end])) {
          return false;
        }
      }
    }
    if (c == '?') {
      return t < m_text.size() && may_cross(m_text[t]) && matches(p + 1, t + 1, bindings);
    }
    if (c == '[') {
      throw InternalError("sudoers character classes ([…]) are not supported in privileged-command patterns: '" +
                          std::string(m_pattern) + "'");
    }
    if (m_placeholders) {
      if (auto name = placeholder_at(m_pattern, p)) {
        return matches_placeholder(p + name->size() + 2, t, *name, bindings);
      }
    }
    const std::size_t literal = c == '\\' && p + 1 < m_pattern.size() ? p + 1 : p;
    return t < m_text.size() && m_text[t] == m_pattern[literal] && matches(literal + 1, t + 1, bindings);
  }

private:
  bool may_cross(char c) const { return !m_pathname || c != '/'; }

  bool matches_placeholder(std::size_t p, std::size_t t, std::string_view name, Bindings& bindings) const {
    if (auto bound = bindings.find(name); bound != bindings.end()) {
      return m_text.substr(t).starts_with(bound->second) && matches(p, t + bound->second.size(), bindings);
    }
    if (t == m_text.size() || m_text[t] != '/') {
      return false;
    }
    for (std::size_t end = t + 1; end <= m_text.size() && m_text[end - 1] != ' '; ++end) {
      Bindings tried = bindings;
      tried.emplace(name, std::string(m_text.substr(t, end - t)));
      if (matches(p, end, tried)) {
        bindings = std::move(tried);
        return true;
      }
    }
    return false;
  }

  std::string_view m_pattern;
  std::string_view m_text;
  bool m_pathname;
  bool m_placeholders;
};

struct SplitPattern {
  std::string_view command;
  std::string_view args;
};

SplitPattern split_pattern(std::string_view pattern) {
  auto space = pattern.find(' ');
  if (space == std::string_view::npos) {
    return {pattern, {}};
  }
  return {pattern.substr(0, space), pattern.substr(space + 1)};
}

std::string joined_args(const std::vector<std::string>& argv) {
  std::string joined;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    joined += (i > 1 ? " " : "") + argv[i];
  }
  return joined;
}

bool is_absolute_word(std::string_view word) {
  return word.starts_with('/') && word.find(' ') == std::string_view::npos;
}

bool matches_with_placeholders(std::string_view pattern, const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return false;
  }
  auto [command, args] = split_pattern(pattern);
  Bindings bindings;
  if (auto name = placeholder_at(command, 0); name && name->size() + 2 == command.size()) {
    if (!is_absolute_word(argv[0])) {
      return false;
    }
    bindings.emplace(*name, argv[0]);
  } else if (!GlobMatch(command, argv[0], true, false).matches(0, 0, bindings)) {
    return false;
  }
  return GlobMatch(args, joined_args(argv), false, true).matches(0, 0, bindings);
}

void check_entry(const PrivilegedCommand& entry) {
  auto fail = [&](const std::string& why) {
    throw InternalError("nix/privileged-commands.json: entry '" + entry.name + "' " + why);
  };
  if (entry.name.empty() || entry.why.empty() || entry.why.find('\n') != std::string::npos) {
    fail("needs a name and a one-line why");
  }
  auto [command, args] = split_pattern(entry.pattern);
  // sudo lets a rule without arguments run the command with any arguments.
  if (args.empty()) {
    fail("has no arguments, which sudo would read as 'any arguments'");
  }
  auto placeholder = placeholder_at(command, 0);
  if (placeholder ? placeholder->size() + 2 != command.size() : !command.starts_with('/')) {
    fail("must start with an absolute path or a placeholder alone");
  }
  if (entry.pattern.find_first_of("[]\\\t\n") != std::string::npos || entry.pattern.find("  ") != std::string::npos) {
    fail("uses a character sudoers patterns here avoid ([, ], \\, tabs or double spaces)");
  }
  for (std::size_t at = entry.pattern.find('@'); at != std::string::npos;) {
    auto name = placeholder_at(entry.pattern, at);
    if (!name) {
      fail("has an unknown placeholder at '" + entry.pattern.substr(at) + "'; known: @AGENT@, @SYSTEMD_RUN@, @STATE_DIR@");
    }
    at = entry.pattern.find('@', at + name->size() + 2);
  }
}

}  // namespace

std::vector<PrivilegedCommand> parse_privileged_commands(std::string_view json) {
  std::vector<PrivilegedCommand> commands;
  try {
    const auto document = nlohmann::json::parse(json);
    for (const auto& entry : document.at("commands")) {
      commands.push_back({entry.at("name").get<std::string>(), entry.at("why").get<std::string>(),
                          entry.at("pattern").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw InternalError(std::string("nix/privileged-commands.json is malformed: ") + e.what());
  }
  for (const auto& entry : commands) {
    check_entry(entry);
  }
  return commands;
}

const std::vector<PrivilegedCommand>& privileged_commands() {
  static const std::vector<PrivilegedCommand> commands = parse_privileged_commands(k_privileged_commands_json);
  return commands;
}

bool sudoers_pattern_matches(std::string_view pattern, const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return false;
  }
  auto [command, args] = split_pattern(pattern);
  Bindings none;
  return GlobMatch(command, argv[0], true, false).matches(0, 0, none) &&
         GlobMatch(args, joined_args(argv), false, false).matches(0, 0, none);
}

const PrivilegedCommand* find_privileged_command(const std::vector<PrivilegedCommand>& commands,
                                                 const std::vector<std::string>& argv) {
  for (const auto& entry : commands) {
    if (matches_with_placeholders(entry.pattern, argv)) {
      return &entry;
    }
  }
  return nullptr;
}

std::vector<std::string> expand_placeholders(const std::string& pattern, const PlaceholderValues& values) {
  auto values_of = [&](std::string_view name) -> const std::vector<std::string>& {
    return name == "AGENT" ? values.agent : name == "SYSTEMD_RUN" ? values.systemd_run : values.state_dir;
  };
  // Expanded left to right, so a value is never searched for placeholders itself.
  std::vector<std::pair<std::string, Bindings>> partial{{"", {}}};
  for (std::size_t at = 0; at < pattern.size();) {
    auto name = placeholder_at(pattern, at);
    if (!name) {
      for (auto& [text, bindings] : partial) {
        text += pattern[at];
      }
      ++at;
      continue;
    }
    std::vector<std::pair<std::string, Bindings>> longer;
    for (auto& [text, bindings] : partial) {
      if (auto bound = bindings.find(*name); bound != bindings.end()) {
        longer.emplace_back(text + bound->second, bindings);
        continue;
      }
      for (const auto& value : values_of(*name)) {
        Bindings more = bindings;
        more.emplace(*name, value);
        longer.emplace_back(text + value, std::move(more));
      }
    }
    partial = std::move(longer);
    at += name->size() + 2;
  }
  std::vector<std::string> expanded;
  for (auto& [text, bindings] : partial) {
    if (std::find(expanded.begin(), expanded.end(), text) == expanded.end()) {
      expanded.push_back(std::move(text));
    }
  }
  return expanded;
}

std::vector<std::string> sudo_argv(std::vector<std::string> argv) {
  if (find_privileged_command(privileged_commands(), argv) == nullptr) {
    throw InternalError("not in the privileged-command list: `" + describe_command(argv) +
                        "`; nodes' sudo rules allow only that list: add it to nix/privileged-commands.json");
  }
  argv.insert(argv.begin(), {"sudo", "-n", "--"});
  return argv;
}

}  // namespace fleet::builder
