// SPDX-License-Identifier: MIT
#include "builder/phases/remote_builders.hpp"

#include <sodium.h>

namespace fleet::builder {
namespace {

std::string base64(const std::string& text) {
  std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// One line of nix's machines format: URI, systems, SSH key ("-": the user's), max jobs, speed
// factor, supported and mandatory features ("-": none), the host key in base64.
std::string machine_line(const protocol::RemoteBuilder& builder) {
  std::string systems;
  for (const auto& system : builder.systems) {
    systems += (systems.empty() ? "" : ",") + system;
  }
  return "ssh-ng://" + (builder.user.empty() ? "" : builder.user + "@") + builder.host + " " + systems + " - " +
         std::to_string(builder.max_jobs) + " " + std::to_string(builder.speed) + " - - " +
         (builder.host_key.empty() ? "-" : base64(builder.host_key));
}

}  // namespace

BuildOptions build_options(const std::map<std::string, std::string>& nix_options,
                           const std::vector<protocol::RemoteBuilder>& remote_builders) {
  BuildOptions options{nix_options, {}};
  std::string machines;
  for (const auto& builder : remote_builders) {
    if (builder.port != 22) {
      options.left_out.push_back(builder.name + " is not a remote builder: nix's ssh-ng store reaches port 22 only, and " +
                                 builder.name + " listens on " + std::to_string(builder.port));
      continue;
    }
    machines += (machines.empty() ? "" : " ; ") + machine_line(builder);
  }
  if (machines.empty()) {
    return options;
  }
  auto& builders = options.nix_options["builders"];
  builders = builders.empty() ? machines : builders + " ; " + machines;
  options.nix_options.try_emplace("builders-use-substitutes", "true");
  return options;
}

}  // namespace fleet::builder
