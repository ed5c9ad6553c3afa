// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator/run/build_location.hpp"
#include "uploader/ssh/ssh_target.hpp"
#include "uploader/tarball/source_set.hpp"
#include "uploader/tarball/tarball_writer.hpp"
#include "uploader/transfer/source_payload.hpp"

#include <functional>
#include <map>
#include <string>

namespace fleet::coordinator {

// The source after `nix flake update`: repacked with the new flake.lock, so its content hash
// covers the updated inputs and every build location receives the same lock.
struct UpdatedSource {
  tarball::PackedTarball packed;
  std::string flake_lock;  // the new lock file's text
  std::string log;         // nix's messages ("• Updated input 'nixpkgs': …")
};

// --update-inputs: uploads `packed` to `location` (the first build location), has its agent run
// `nix flake update` on a copy of it, and repacks `sources` with the lock it sends back (the
// laptop's own tree is not modified). `on_message` hears progress. Throws fleet::Error (NodeError
// for the remote side) when the location cannot be reached or the update fails.
UpdatedSource update_flake_inputs(const BuildLocation& location, const ssh::SshOptions& ssh,
                                  const tarball::SourceSet& sources, const tarball::PackedTarball& packed,
                                  const std::string& flake, const std::map<std::string, std::string>& nix_options,
                                  const transfer::BaseLookup& earlier_tar,
                                  const std::function<void(const std::string&)>& on_message);

// Packs `sources` with the file at `replace_path` (relative to the source root) holding
// `content` instead: the tree is copied to a private temporary directory first. Throws
// fleet::Error naming the path on failure.
tarball::PackedTarball pack_with_file(const tarball::SourceSet& sources, const std::string& replace_path,
                                      const std::string& content, const std::vector<std::string>& exclude);

}  // namespace fleet::coordinator
