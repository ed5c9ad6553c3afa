// SPDX-License-Identifier: MIT
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::builder {

// A self-contained copy of an agent binary, for a target that has no fleet-builder (or another
// release): the bundle carries the dynamic loader and every shared library the binary was
// linked against on this host, so it runs on any host of the same architecture.
//
//   fleet-builder-VERSION/bin/fleet-builder      /bin/sh wrapper, the command to run
//   fleet-builder-VERSION/libexec/fleet-builder  the real binary
//   fleet-builder-VERSION/lib/                   the loader and the libraries, by the names the binary asks for

// A shared library the loader maps for a program: the name the program asks for (its DT_NEEDED
// entry, the name the bundle gives the copy) and the file the loader chose for it.
struct LoadedLibrary {
  std::string name;
  std::filesystem::path file;
};

// The ELF interpreter (PT_INTERP) `binary` names, such as /lib64/ld-linux-x86-64.so.2; empty for
// a static binary. Throws fleet::Error when the file cannot be read or is not ELF.
std::filesystem::path elf_interpreter(const std::filesystem::path& binary);

// Reads what `ld.so --list BINARY` (the same text as ldd) printed: "name => /path (0x…)" for a
// library, "/path (0x…)" for the loader, "name (0x…)" for the vDSO, which has no file. Throws
// fleet::Error naming `binary` for a library the loader did not find, or a line it cannot read.
std::vector<LoadedLibrary> parse_loader_list(std::string_view text, const std::string& binary);

// The libraries `loader` loads for `binary`, as the loader itself lists them (`--list`).
std::vector<LoadedLibrary> list_libraries(const std::filesystem::path& loader, const std::filesystem::path& binary);

// The wrapper bin/fleet-builder for `release`, running lib/`loader_name` (empty: the binary is
// static and runs directly). It exports FLEET_AGENT_PATH as its own absolute path, with
// symlinks resolved, so the agent knows the command that runs it again.
std::string agent_wrapper_script(const std::string& release, const std::string& loader_name);

// Writes the bundle of `binary` into `bundle_dir` (created; it must not exist). The content
// depends only on the binary and the libraries: files are copied, never linked, with fixed
// modes (0555 executables, 0444 libraries), which is all a store path's hash sees.
void write_agent_bundle(const std::filesystem::path& binary, const std::string& release,
                        const std::filesystem::path& bundle_dir);

}  // namespace fleet::builder
