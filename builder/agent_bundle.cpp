// SPDX-License-Identifier: MIT
#include "builder/agent_bundle.hpp"

#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/process.hpp"

#include <elf.h>

#include <climits>
#include <cstring>
#include <fstream>

namespace fleet::builder {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds k_list_timeout{30};
constexpr auto k_executable = fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec;
constexpr auto k_readable = fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read;
// Before glibc 2.34 the `files` and `dns` lookups were modules that libc opens at run time (so
// the loader's list never names them); user and group names of secrets need them.
constexpr const char* k_runtime_modules[] = {"libnss_files.so.2", "libnss_dns.so.2"};

template <typename Header, typename ProgramHeader>
fs::path interpreter_of(std::ifstream& in, const fs::path& binary) {
  Header header{};
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) || header.e_phentsize != sizeof(ProgramHeader)) {
    throw Error("cannot read the ELF header of " + binary.string());
  }
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    ProgramHeader program{};
    in.seekg(static_cast<std::streamoff>(header.e_phoff + i * sizeof program));
    if (!in.read(reinterpret_cast<char*>(&program), sizeof program)) {
      throw Error("cannot read the program headers of " + binary.string());
    }
    if (program.p_type != PT_INTERP) {
      continue;
    }
    if (program.p_filesz == 0 || program.p_filesz > PATH_MAX) {
      throw Error("the ELF interpreter of " + binary.string() + " has an unreadable length");
    }
    std::string path(program.p_filesz, '\0');
    in.seekg(static_cast<std::streamoff>(program.p_offset));
    if (!in.read(path.data(), static_cast<std::streamsize>(path.size()))) {
      throw Error("cannot read the ELF interpreter of " + binary.string());
    }
    return path.substr(0, path.find('\0'));
  }
  return {};
}

std::string trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t");
  auto end = text.find_last_not_of(" \t\r");
  return begin == std::string_view::npos ? std::string() : std::string(text.substr(begin, end - begin + 1));
}

// "/path (0x00007f…)" → "/path"; the address is the last parenthesis, so a path with spaces or
// parentheses of its own is kept whole.
std::string without_address(const std::string& text) {
  auto open = text.rfind(" (0x");
  return open == std::string::npos ? text : text.substr(0, open);
}

void copy_with_mode(const fs::path& from, const fs::path& to, fs::perms mode) {
  // copy_file follows symlinks: libfoo.so.1 → libfoo.so.1.2.3 becomes one regular file.
  fs::copy_file(from, to);
  fs::permissions(to, mode);
}

}  // namespace

fs::path elf_interpreter(const fs::path& binary) {
  std::ifstream in(binary, std::ios::binary);
  unsigned char ident[EI_NIDENT] = {};
  if (!in || !in.read(reinterpret_cast<char*>(ident), sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    throw Error(binary.string() + " is not an ELF file");
  }
  if (ident[EI_CLASS] == ELFCLASS64) {
    return interpreter_of<Elf64_Ehdr, Elf64_Phdr>(in, binary);
  }
  return interpreter_of<Elf32_Ehdr, Elf32_Phdr>(in, binary);
}

std::vector<LoadedLibrary> parse_loader_list(std::string_view text, const std::string& binary) {
  std::vector<LoadedLibrary> libraries;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    auto line = trim(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    start = end == std::string_view::npos ? text.size() : end + 1;
    if (line.empty() || line == "statically linked") {
      continue;
    }
    auto arrow = line.find(" => ");
    if (arrow == std::string::npos) {
      auto path = without_address(line);
      if (path.front() == '/') {
        libraries.push_back({fs::path(path).filename().string(), path});  // the loader itself
      }
      continue;  // the vDSO: the kernel maps it, there is no file to copy
    }
    auto name = line.substr(0, arrow);
    auto target = without_address(trim(line.substr(arrow + 4)));
    if (target == "not found") {
      throw Error("the loader finds no " + name + " for " + binary + ": it would not start here either");
    }
    if (name.front() == '/') {
      // "/lib64/ld-linux-x86-64.so.2 => …": the loader, under the path the binary names, when
      // another copy of it runs the list.
      name = fs::path(name).filename().string();
    }
    if (name.empty() || name.find('/') != std::string::npos || target.empty() || target.front() != '/') {
      throw Error("cannot read the loader's list of libraries for " + binary + ": '" + line + "'");
    }
    libraries.push_back({name, target});
  }
  return libraries;
}

std::vector<LoadedLibrary> list_libraries(const fs::path& loader, const fs::path& binary) {
  auto result = run_process({{loader.string(), "--list", binary.string()}, {}, "", k_list_timeout});
  if (!result.ok()) {
    throw Error("`" + loader.string() + " --list " + binary.string() + "` failed (exit " +
                std::to_string(result.exit_code) + "):\n" + result.err_tail);
  }
  return parse_loader_list(result.out, binary.string());
}

std::string agent_wrapper_script(const std::string& release, const std::string& loader_name) {
  std::string run = loader_name.empty()
                        ? "exec \"$bundle/libexec/fleet-builder\" \"$@\"\n"
                        : "exec \"$bundle/lib/" + loader_name +
                              "\" --library-path \"$bundle/lib\" \"$bundle/libexec/fleet-builder\" \"$@\"\n";
  return "#!/bin/sh\n"
         "# fleet-builder " + release + " with the loader and libraries it was built with, for a host that\n"
         "# has neither. It runs the real binary through the bundled loader, with the bundled libraries\n"
         "# only; FLEET_AGENT_PATH tells the agent which command runs it again.\n"
         "self=$0\n"
         "hops=0\n"
         "while [ -h \"$self\" ] && [ \"$hops\" -lt 40 ]; do\n"
         "  hops=$((hops + 1))\n"
         "  link=$(readlink \"$self\") || exit 127\n"
         "  case $link in\n"
         "    /*) self=$link ;;\n"
         "    *) case $self in */*) self=${self%/*}/$link ;; *) self=$link ;; esac ;;\n"
         "  esac\n"
         "done\n"
         "case $self in */*) dir=${self%/*} ;; *) dir=. ;; esac\n"
         "bundle=$(CDPATH= cd -P -- \"$dir/..\" && pwd -P) || exit 127\n"
         "FLEET_AGENT_PATH=$bundle/bin/fleet-builder\n"
         "export FLEET_AGENT_PATH\n" +
         run;
}

void write_agent_bundle(const fs::path& binary, const std::string& release, const fs::path& bundle_dir) {
  auto loader = elf_interpreter(binary);
  for (const auto* sub : {"bin", "lib", "libexec"}) {
    fs::create_directories(bundle_dir / sub);
  }
  copy_with_mode(binary, bundle_dir / "libexec/fleet-builder", k_executable);
  std::string loader_name;
  if (!loader.empty()) {
    loader_name = loader.filename().string();
    copy_with_mode(loader, bundle_dir / "lib" / loader_name, k_executable);
    fs::path libc_dir;
    for (const auto& library : list_libraries(loader, binary)) {
      if (library.name == loader_name) {
        continue;  // the loader, listed by the path the binary names, is copied above
      }
      copy_with_mode(library.file, bundle_dir / "lib" / library.name, k_readable);
      if (library.name == "libc.so.6") {
        libc_dir = fs::canonical(library.file).parent_path();
      }
    }
    for (const auto* module : k_runtime_modules) {
      if (!libc_dir.empty() && fs::exists(libc_dir / module) && !fs::exists(bundle_dir / "lib" / module)) {
        copy_with_mode(libc_dir / module, bundle_dir / "lib" / module, k_readable);
      }
    }
  }
  auto wrapper = bundle_dir / "bin/fleet-builder";
  write_file_atomically(wrapper, agent_wrapper_script(release, loader_name));
  fs::permissions(wrapper, k_executable);
}

}  // namespace fleet::builder
