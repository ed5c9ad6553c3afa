// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/run/agent_link.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fleet::coordinator {

// --update-inputs on one location, blocking: sends it `source` (`on_sent` hears the transfer as
// soon as it is done) and has its agent run `nix flake update` on a copy. Throws fleet::Error
// (NodeError for the remote side) when either fails.
InputUpdate update_inputs_on(AgentLink& link, const tarball::PackedTarball& source,
                             const transfer::BaseLookup& earlier_tar, const std::string& flake,
                             const std::map<std::string, std::string>& nix_options,
                             const std::function<void(const TransferRecord&)>& on_sent);

// Packs `sources` with the file at `replace_path` (relative to the source root) holding
// `content` instead: the tree is copied to a private temporary directory first, and the laptop's
// own tree is not modified. Throws fleet::Error naming the path on failure.
tarball::PackedTarball pack_with_file(const tarball::SourceSet& sources, const std::string& replace_path,
                                      const std::string& content, const std::vector<std::string>& exclude);

// The source of `flake` (a directory inside `sources`) repacked with `flake_lock` as its
// flake.lock, so that its content hash covers the updated inputs and every location builds with
// the same lock. The laptop's exclude patterns do not apply: they must not drop the lock.
tarball::PackedTarball pack_with_flake_lock(const tarball::SourceSet& sources, const std::string& flake,
                                            const std::string& flake_lock);

}  // namespace fleet::coordinator
