// SPDX-License-Identifier: MIT
#pragma once

#include <map>
#include <string>
#include <vector>

namespace fleet::builder {

// Builds argv for nix commands with the fleet's `nixOptions` as `--option K V` on every call.
// Only flags that nix 2.8, current Nix and Lix all accept are used.
class NixCli {
public:
  explicit NixCli(std::map<std::string, std::string> options) : m_options(std::move(options)) {}

  // `nix <args…>` with the nix-command and flakes features enabled.
  std::vector<std::string> nix(std::vector<std::string> args) const;
  // A legacy command (`nix-store`, `nix-env`) with the same options.
  std::vector<std::string> legacy(const std::string& program, std::vector<std::string> args) const;

  const std::map<std::string, std::string>& options() const { return m_options; }

private:
  void append_options(std::vector<std::string>& argv) const;
  std::map<std::string, std::string> m_options;
};

// argv run as root: unchanged when this process is root, else `sudo -n -- argv…` (a prompt
// would hang an unattended run). Only the commands of nix/privileged-commands.json may go
// through sudo, since those are all the sudo rules of a node allow: any other argv throws
// InternalError naming it (see sudo_argv() in builder/privilege.hpp).
std::vector<std::string> as_root(std::vector<std::string> argv);

}  // namespace fleet::builder
