// SPDX-License-Identifier: MIT
#include "coordinator/config/value_checks.hpp"

#include "uploader/protocol/action.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace fleet::coordinator {

namespace {

bool is_name_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-'; }

bool has_space_or_control(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0 || std::iscntrl(c) != 0; });
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

constexpr std::array<std::string_view, 8> k_key_types = {
    "ssh-ed25519",         "ssh-rsa",
    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss"};

bool is_base64(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '+' || c == '/' || c == '=';
  });
}

// "<type> <base64> [comment]" on one line; the base64 blob starts with the length of the type
// string, whose three leading zero bytes always encode as "AAAA".
bool is_ssh_public_key(const std::string& key) {
  if (key.find_first_of("\r\n") != std::string::npos) {
    return false;
  }
  auto space = key.find(' ');
  if (space == std::string::npos) {
    return false;
  }
  std::string_view type(key.data(), space);
  if (std::find(k_key_types.begin(), k_key_types.end(), type) == k_key_types.end()) {
    return false;
  }
  std::string_view rest(key.data() + space + 1, key.size() - space - 1);
  std::string_view blob = rest.substr(0, rest.find(' '));
  return blob.size() >= 16 && blob.substr(0, 4) == "AAAA" && is_base64(blob);
}

}  // namespace

std::optional<Problem> check_name(const std::string& kind, const std::string& name) {
  if (name.empty() || name.front() == '-' ||
      !std::all_of(name.begin(), name.end(), [](unsigned char c) { return is_name_char(c); })) {
    return Problem{quoted(name) + " is not a valid " + kind + " name",
                   "use letters, digits, '_', '.' and '-', not starting with '-'"};
  }
  return std::nullopt;
}

std::optional<Problem> check_host(const std::string& host) {
  if (host.empty()) {
    return Problem{"host is empty", "give a host name or address, e.g. \"pi1.example\""};
  }
  if (host.front() == '-') {
    return Problem{"host " + quoted(host) + " starts with '-', which ssh would read as an option",
                   "give a host name or address"};
  }
  if (has_space_or_control(host)) {
    return Problem{"host " + quoted(host) + " contains whitespace", "give a single host name or address"};
  }
  // ssh puts the host into a ProxyCommand's %h, and build nodes into their own ssh commands:
  // a host must never be able to carry shell syntax there.
  auto bad = std::find_if(host.begin(), host.end(), [](unsigned char c) { return !is_name_char(c) && c != ':'; });
  if (bad != host.end()) {
    return Problem{"host " + quoted(host) + " contains " + quoted(std::string(1, *bad)) +
                       ", which no host name or address has",
                   "give a DNS name, an IPv4 address or an IPv6 address without brackets"};
  }
  return std::nullopt;
}

std::optional<Problem> check_user(const std::string& user) {
  if (user.empty()) {
    return Problem{"user is empty", "give a login name such as \"root\", or leave the key out"};
  }
  if (user.front() == '-') {
    return Problem{"user " + quoted(user) + " starts with '-', which ssh would read as an option",
                   "give a login name such as \"root\""};
  }
  if (has_space_or_control(user) || user.find('@') != std::string::npos) {
    return Problem{"user " + quoted(user) + " is not a login name", "give a login name such as \"root\""};
  }
  return std::nullopt;
}

std::optional<Problem> check_port(long long port) {
  if (port < 1 || port > 65535) {
    return Problem{"port " + std::to_string(port) + " is out of range", "use a port from 1 to 65535"};
  }
  return std::nullopt;
}

std::optional<Problem> check_system(const std::string& system) {
  auto dash = system.find('-');
  auto valid_part = [](std::string_view part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](unsigned char c) {
      return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '_';
    });
  };
  if (dash == std::string::npos || !valid_part(std::string_view(system).substr(0, dash)) ||
      !valid_part(std::string_view(system).substr(dash + 1))) {
    return Problem{quoted(system) + " is not a Nix system",
                   "write it as <cpu>-<kernel>, e.g. \"x86_64-linux\" or \"aarch64-linux\""};
  }
  return std::nullopt;
}

std::optional<Problem> check_action(const std::string& action) {
  if (protocol::parse_action(action)) {
    return std::nullopt;
  }
  return Problem{quoted(action) + " is not an action", "use " + protocol::action_names_text()};
}

std::optional<Problem> check_host_key(const std::string& key) {
  if (!is_ssh_public_key(key)) {
    return Problem{"not one OpenSSH public key line",
                   "paste the key as `ssh-keyscan -t ed25519 HOST` prints it, without the host name: "
                   "\"ssh-ed25519 AAAAC3Nza…\""};
  }
  return std::nullopt;
}

std::optional<Problem> check_recipient(const std::string& recipient) {
  bool age = recipient.size() > 10 && recipient.rfind("age1", 0) == 0 && !has_space_or_control(recipient);
  if (!age && !is_ssh_public_key(recipient)) {
    return Problem{quoted(recipient.substr(0, 40)) + " is not an age recipient",
                   "give an \"age1…\" public key (age-keygen -y) or an \"ssh-ed25519 AAAA…\" line"};
  }
  return std::nullopt;
}

std::optional<Problem> check_mode(const std::string& mode) {
  std::string_view digits(mode);
  if (digits.size() == 4 && digits.front() == '0') {
    digits.remove_prefix(1);
  }
  if (digits.size() != 3 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return Problem{quoted(mode) + " is not an octal file mode", "write three octal digits as a string, e.g. \"0400\""};
  }
  return std::nullopt;
}

std::optional<Problem> check_when(const std::string& when) {
  if (when != "pre-activation" && when != "post-activation") {
    return Problem{quoted(when) + " is not a time to install a secret", "use pre-activation or post-activation"};
  }
  return std::nullopt;
}

std::optional<Problem> check_owner(const std::string& owner) {
  bool numeric = !owner.empty() && std::all_of(owner.begin(), owner.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  bool name = !owner.empty() && owner.size() <= 32 && (std::islower(static_cast<unsigned char>(owner.front())) != 0 || owner.front() == '_') &&
              std::all_of(owner.begin(), owner.end(), [](unsigned char c) {
                return std::islower(c) != 0 || std::isdigit(c) != 0 || c == '_' || c == '-' || c == '.';
              });
  if (!numeric && !name) {
    return Problem{quoted(owner) + " is not a user or group name", "use a name such as \"root\" or a numeric id"};
  }
  return std::nullopt;
}

std::optional<Problem> check_dest(const std::string& dest) {
  if (dest.empty() || dest.front() != '/' || has_space_or_control(dest) || dest.find("/../") != std::string::npos ||
      dest.find("/./") != std::string::npos || dest.back() == '/' || dest.ends_with("/..") || dest.ends_with("/.")) {
    return Problem{quoted(dest) + " is not an absolute file path", "give a path such as \"/run/keys/wifi\""};
  }
  if (dest.rfind("/nix/store/", 0) == 0 || dest == "/nix/store") {
    return Problem{quoted(dest) + " is inside the world-readable Nix store", "install secrets under /run/keys or /var/lib"};
  }
  return std::nullopt;
}

}  // namespace fleet::coordinator
