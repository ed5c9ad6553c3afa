// SPDX-License-Identifier: MIT
// The bundle a build node brings to a target without fleet-builder: its layout, the loader's
// list it is made from, and its wrapper, run for real from a temp dir.
#include "builder/agent_bundle.hpp"
#include "builder/agent_path.hpp"
#include "builder/agent_store.hpp"
#include "uploader/base/error.hpp"
#include "uploader/base/file_io.hpp"
#include "uploader/base/process.hpp"
#include "uploader/hash/sha256.hpp"
#include "uploader/protocol/agent_version.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace fleet;
using namespace fleet::builder;
namespace fs = std::filesystem;

namespace {

const fs::path k_agent = FLEET_BUILDER_BINARY;

bool is_executable(const fs::path& file) {
  return (fs::status(file).permissions() & fs::perms::owner_exec) != fs::perms::none;
}

// What a NAR, and so a store path's hash, records of a tree: names, types, contents, the executable bit.
std::map<std::string, std::string> nar_view(const fs::path& root) {
  std::map<std::string, std::string> view;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    auto name = fs::relative(entry.path(), root).string();
    if (entry.is_symlink()) {
      view[name] = "link " + fs::read_symlink(entry.path()).string();
    } else if (entry.is_directory()) {
      view[name] = "dir";
    } else {
      view[name] = (is_executable(entry.path()) ? "x " : "- ") + hash::sha256_hex(test::read_file(entry.path()));
    }
  }
  return view;
}

ProcessResult run_clean(std::vector<std::string> argv) {
  // No LD_LIBRARY_PATH: the bundle must find everything in itself.
  return run_process({std::move(argv), {{"LD_LIBRARY_PATH", ""}, {"FLEET_AGENT_PATH", ""}}, "", std::chrono::seconds{30}});
}

}  // namespace

TEST_CASE("the loader's list gives each library under the name the binary asks for") {
  auto libraries = parse_loader_list("\tlinux-vdso.so.1 (0x00007ffd5c3f2000)\n"
                                     "\tlibstdc++.so.6 => /usr/lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f64e4800000)\n"
                                     "\tlibz.so.1 => /opt/my libs (old)/libz.so.1.2.13 (0x00007f64e47a8000)\n"
                                     "\t/lib64/ld-linux-x86-64.so.2 (0x00007f64e548d000)\n"
                                     "\t/lib64/ld-linux-x86-64.so.2 => /b/lib/ld-linux-x86-64.so.2 (0x00007f64e548d000)\n",
                                     "/bin/agent");
  REQUIRE(libraries.size() == 4);
  CHECK(libraries[0].name == "libstdc++.so.6");
  CHECK(libraries[0].file == "/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
  CHECK(libraries[1].name == "libz.so.1");
  CHECK(libraries[1].file == "/opt/my libs (old)/libz.so.1.2.13");
  CHECK(libraries[2].name == "ld-linux-x86-64.so.2");
  CHECK(libraries[2].file == "/lib64/ld-linux-x86-64.so.2");
  CHECK(libraries[3].name == "ld-linux-x86-64.so.2");
  CHECK(libraries[3].file == "/b/lib/ld-linux-x86-64.so.2");
  CHECK(parse_loader_list("\tstatically linked\n", "/bin/agent").empty());
}

TEST_CASE("a library the loader cannot find, or a line it did not write, stops the bundle") {
  CHECK_THROWS_WITH(parse_loader_list("\tlibgone.so.3 => not found\n", "/bin/agent"),
                    Catch::Contains("finds no libgone.so.3 for /bin/agent"));
  CHECK_THROWS_WITH(parse_loader_list("\tlibx.so => relative/libx.so (0x1)\n", "/bin/agent"),
                    Catch::Contains("cannot read the loader's list"));
}

TEST_CASE("the agent's ELF interpreter is read from its program headers") {
  auto loader = elf_interpreter(k_agent);
  CHECK(loader.is_absolute());
  CHECK(fs::exists(loader));
  test::TempDir dir;
  write_file_atomically(dir / "script", "#!/bin/sh\n");
  CHECK_THROWS_WITH(elf_interpreter(dir / "script"), Catch::Contains("is not an ELF file"));
}

TEST_CASE("the bundle holds the binary, its loader and its libraries, and its wrapper runs it without the host's") {
  test::TempDir dir;
  const auto release = protocol::this_agent_version().version;
  auto bundle = dir / ("fleet-builder-" + release);
  write_agent_bundle(k_agent, release, bundle);
  auto loader = elf_interpreter(k_agent).filename().string();

  CHECK(is_executable(bundle / "bin/fleet-builder"));
  CHECK(is_executable(bundle / "libexec/fleet-builder"));
  CHECK(is_executable(bundle / "lib" / loader));
  CHECK(test::read_file(bundle / "libexec/fleet-builder") == test::read_file(k_agent));
  for (const auto& library : list_libraries(elf_interpreter(k_agent), k_agent)) {
    INFO(library.name);
    CHECK(fs::is_regular_file(fs::symlink_status(bundle / "lib" / library.name)));
  }
  CHECK(fs::exists(bundle / "lib/libc.so.6"));

  SECTION("the bundled loader resolves every library inside the bundle") {
    auto listed = run_clean({(bundle / "lib" / loader).string(), "--library-path", (bundle / "lib").string(), "--list",
                             (bundle / "libexec/fleet-builder").string()});
    REQUIRE(listed.ok());
    for (const auto& library : parse_loader_list(listed.out, "bundle")) {
      INFO(library.name << " => " << library.file.string());
      if (library.name != loader) {
        CHECK(library.file.parent_path() == bundle / "lib");
      }
    }
  }
  SECTION("bin/fleet-builder answers version --json as the agent itself does") {
    auto result = run_clean({(bundle / "bin/fleet-builder").string(), "version", "--json"});
    INFO(result.err_tail);
    CHECK(result.ok());
    CHECK(protocol::parse_agent_version(result.out) == protocol::this_agent_version());
  }
  SECTION("the same binary makes the same tree, as a store path's hash sees it") {
    auto again = dir / "again" / ("fleet-builder-" + release);
    write_agent_bundle(k_agent, release, again);
    CHECK(nar_view(again) == nar_view(bundle));
  }
}

TEST_CASE("the wrapper tells the agent its own resolved path, however it was started") {
  test::TempDir dir;
  auto bundle = dir / "fleet-builder-9.9";
  fs::create_directories(bundle / "bin");
  fs::create_directories(bundle / "libexec");
  // A static "agent" runs without the loader; this one prints what it was told.
  write_file_atomically(bundle / "libexec/fleet-builder", "#!/bin/sh\necho \"$FLEET_AGENT_PATH $*\"\n");
  write_file_atomically(bundle / "bin/fleet-builder", agent_wrapper_script("9.9", ""));
  fs::permissions(bundle / "libexec/fleet-builder", fs::perms::owner_all);
  fs::permissions(bundle / "bin/fleet-builder", fs::perms::owner_all);
  fs::create_directories(dir / "elsewhere");
  fs::create_symlink(bundle / "bin/fleet-builder", dir / "elsewhere/agent");
  const std::string expected = (bundle / "bin/fleet-builder").string() + " version --json\n";

  CHECK(run_clean({(bundle / "bin/fleet-builder").string(), "version", "--json"}).out == expected);
  CHECK(run_clean({(dir / "elsewhere/agent").string(), "version", "--json"}).out == expected);
  CHECK(run_clean({"/bin/sh", "-c", "cd " + shell_quote(bundle.string()) + " && bin/fleet-builder version --json"}).out ==
        expected);
  CHECK(agent_wrapper_script("9.9", "ld-linux-x86-64.so.2")
            .find("exec \"$bundle/lib/ld-linux-x86-64.so.2\" --library-path \"$bundle/lib\" "
                  "\"$bundle/libexec/fleet-builder\" \"$@\"\n") != std::string::npos);
}

TEST_CASE("an agent in the store is its own store path; any other path is not") {
  CHECK(agent_store_path_of("/nix/store/abc-fleet-0.1.0/bin/fleet-builder") == "/nix/store/abc-fleet-0.1.0");
  CHECK(agent_store_path_of("/nix/store/abc-fleet-0.1.0/bin/../bin/fleet-builder") == "/nix/store/abc-fleet-0.1.0");
  CHECK_FALSE(agent_store_path_of("/usr/local/bin/fleet-builder"));
  CHECK_FALSE(agent_store_path_of("/nix/store/abc-fleet-0.1.0/bin/.fleet-builder-wrapped"));
  CHECK_FALSE(agent_store_path_of("/nix/store/abc/sw/bin/fleet-builder"));
  CHECK_FALSE(agent_store_path_of("/nix/store/bin/fleet-builder"));
}

TEST_CASE("the agent knows itself by FLEET_AGENT_PATH when that names a file, else by /proc/self/exe") {
  test::TempDir dir;
  write_file_atomically(dir / "fleet-builder", "#!/bin/sh\n");
  {
    test::ScopedEnv set("FLEET_AGENT_PATH", (dir / "fleet-builder").c_str());
    CHECK(agent_self_path() == dir / "fleet-builder");
  }
  {
    test::ScopedEnv stale("FLEET_AGENT_PATH", (dir / "gone").c_str());
    CHECK(agent_self_path() == fs::read_symlink("/proc/self/exe"));
  }
}

TEST_CASE("the bundle goes into a store once per binary, with a GC root under the state dir") {
  if (run_process({{"/bin/sh", "-c", "command -v nix-store"}, {}, "", std::chrono::seconds{10}}).exit_code != 0) {
    WARN("nix-store is not installed: the bundle's store path is checked in the lab only");
    return;
  }
  test::TempDir dir;
  // A store of its own under the temp dir (local?root=…): the machine's /nix is never touched.
  NixCli nix({{"store", "local?root=" + (dir / "store").string()}});
  auto path = bundle_store_path(nix, k_agent, dir / "state");
  const auto release = protocol::this_agent_version().version;
  CHECK(path.rfind("/nix/store/", 0) == 0);
  CHECK(path.size() > release.size());
  CHECK(path.substr(path.size() - release.size() - 14) == "fleet-builder-" + release);
  auto root = dir / "state/agent" / hash::sha256_hex(test::read_file(k_agent));
  CHECK(fs::read_symlink(root) == path);
  auto in_store = dir.path() / "store" / fs::path(path).relative_path();
  auto result = run_clean({(in_store / "bin/fleet-builder").string(), "version", "--json"});
  INFO(result.err_tail);
  CHECK(protocol::parse_agent_version(result.out) == protocol::this_agent_version());
  // Made again (this store is not at /nix/store, so the root cannot vouch for it): the same path.
  CHECK(bundle_store_path(nix, k_agent, dir / "state") == path);
  auto kept = std::distance(fs::directory_iterator(dir / "state/agent"), fs::directory_iterator());
  CHECK(kept == 1);  // the root only: the bundle's scratch copies are gone
}
