// SPDX-License-Identifier: MIT
#include "builder/nix_cli.hpp"

#include "builder/privilege.hpp"

#include <unistd.h>

namespace fleet::builder {

void NixCli::append_options(std::vector<std::string>& argv) const {
  for (const auto& [key, value] : m_options) {
    argv.insert(argv.end(), {"--option", key, value});
  }
}

std::vector<std::string> NixCli::nix(std::vector<std::string> args) const {
  std::vector<std::string> argv{"nix", "--extra-experimental-features", "nix-command flakes"};
  argv.insert(argv.end(), args.begin(), args.end());
  append_options(argv);
  return argv;
}

std::vector<std::string> NixCli::legacy(const std::string& program, std::vector<std::string> args) const {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  append_options(argv);
  return argv;
}

std::vector<std::string> as_root(std::vector<std::string> argv) {
  return geteuid() == 0 ? argv : sudo_argv(std::move(argv));
}

}  // namespace fleet::builder
