// SPDX-License-Identifier: MIT
#pragma once

#include "builder/nix_cli.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fleet::builder {

// X when `agent` is X/bin/fleet-builder with X a store path (/nix/store/NAME), else nothing.
std::optional<std::string> agent_store_path_of(const std::filesystem::path& agent);

// The store path whose bin/fleet-builder is this agent, to be copied to targets. An agent that
// already lives in the store (installed by the NixOS module or `nix profile install`) is that
// path. Otherwise its bundle (agent_bundle.hpp) is added with `nix-store --add`, once per
// content of the binary: `state_dir`/agent/SHA256 is both the GC root that keeps it and the
// record that it was made. Throws fleet::Error naming what failed.
std::string agent_store_path(const NixCli& nix, const std::filesystem::path& state_dir);

// The store path of the bundle of `binary` (for agent_store_path(), and for tests with a store
// of their own in `nix`'s options), added and rooted under `state_dir`/agent unless the root
// of an earlier run still points at it.
std::string bundle_store_path(const NixCli& nix, const std::filesystem::path& binary,
                              const std::filesystem::path& state_dir);

// On a host whose agent runs from the store (brought by a build node, or installed there):
// `state_dir`/agent-in-use becomes a GC root of that store path, so a garbage collection never
// takes the agent that `recover` and the boot-time recovery run. A no-op for an agent outside
// the store. Throws fleet::Error when nix refuses the root.
void root_agent_in_use(const NixCli& nix, const std::filesystem::path& state_dir);

}  // namespace fleet::builder
