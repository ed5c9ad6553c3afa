// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"
#include "uploader/base/exit_code.hpp"
#include "uploader/ssh/ssh_error.hpp"
#include "uploader/tarball/tarball_reader.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <new>
#include <sstream>
#include <system_error>
#include <vector>

using namespace fleet;
namespace fs = std::filesystem;

namespace {

// What main() would exit with for `exception`, thrown and caught as main() catches it.
template <typename E>
ExitCode exit_code_of(const E& exception) {
  try {
    throw exception;
  } catch (...) {
    return exit_code_for(std::current_exception());
  }
}

// What main() prints and returns for `exception`.
template <typename E>
std::pair<std::string, ExitCode> report_of(const E& exception) {
  std::ostringstream err;
  try {
    throw exception;
  } catch (...) {
    const ExitCode code = report_uncaught(err, "fleet", "running `fleet plan --on web`");
    return {err.str(), code};
  }
}

}  // namespace

TEST_CASE("every kind of error maps to the exit code the contract gives it") {
  CHECK(exit_code_of(ConfigError("bad")) == ExitCode::usage);
  CHECK(exit_code_of(LockHeld("held")) == ExitCode::locked);
  CHECK(exit_code_of(NodeError("down")) == ExitCode::node_failed);
  CHECK(exit_code_of(ProtocolError("garbled")) == ExitCode::node_failed);
  CHECK(exit_code_of(Error("plain")) == ExitCode::node_failed);
  CHECK(exit_code_of(ssh::SshError(ssh::SshFailure::auth_failed, "no key")) == ExitCode::node_failed);
  CHECK(exit_code_of(tarball::DestinationExists("there", std::nullopt)) == ExitCode::node_failed);
  // A system call's failure is the machine's, not a bug.
  CHECK(exit_code_of(std::system_error(std::make_error_code(std::errc::permission_denied), "open")) ==
        ExitCode::node_failed);
  CHECK(exit_code_of(fs::filesystem_error("mkdir", "/x", std::make_error_code(std::errc::read_only_file_system))) ==
        ExitCode::node_failed);

  // Bugs: an InternalError, and whatever fleet does not throw on purpose.
  CHECK(exit_code_of(InternalError("impossible state")) == ExitCode::internal);
  CHECK(exit_code_of(std::logic_error("oops")) == ExitCode::internal);
  CHECK(exit_code_of(std::runtime_error("a library's")) == ExitCode::internal);
  CHECK(exit_code_of(std::bad_alloc()) == ExitCode::internal);
  CHECK(exit_code_of(42) == ExitCode::internal);
  try {
    (void)std::map<std::string, int>().at("missing");
  } catch (const std::exception& e) {
    CHECK(exit_code_for(e) == ExitCode::internal);
  }
  try {
    (void)nlohmann::json("text").get<int>();
  } catch (const std::exception& e) {
    CHECK(exit_code_for(e) == ExitCode::internal);
  }
  CHECK(exit_code_for(std::exception_ptr()) == ExitCode::ok);
  CHECK(to_int(ExitCode::internal) == 70);
}

TEST_CASE("an error reads as before until context is added, then one line per context, innermost first") {
  Error error("cannot read 'a.nix': Permission denied");
  CHECK(std::string(error.what()) == "cannot read 'a.nix': Permission denied");
  CHECK(error.context().empty());

  error.add_context("packing /home/me/fleet");
  CHECK(std::string(error.what()) == "cannot read 'a.nix': Permission denied\n  … while packing /home/me/fleet");

  error.add_context("preparing the source for builder 'b1'");
  CHECK(std::string(error.what()) ==
        "cannot read 'a.nix': Permission denied\n"
        "  … while packing /home/me/fleet\n"
        "  … while preparing the source for builder 'b1'");
  CHECK(std::string(error.message()) == "cannot read 'a.nix': Permission denied");
  CHECK(error.context() == std::vector<std::string>{"packing /home/me/fleet", "preparing the source for builder 'b1'"});
}

TEST_CASE("context added while an error rises keeps its kind and exit code") {
  auto inner = [] { throw ConfigError("fleet.json: nodes.t1.host: '' is not a host name"); };
  auto middle = [&] {
    try {
      inner();
    } catch (Error& e) {
      e.add_context("loading fleet.json");
      throw;
    }
  };
  try {
    try {
      middle();
    } catch (Error& e) {
      e.add_context("running `fleet plan`");
      throw;
    }
    FAIL("nothing thrown");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "fleet.json: nodes.t1.host: '' is not a host name\n  … while loading fleet.json\n  … while running `fleet plan`");
    CHECK(exit_code_for(e) == ExitCode::usage);
  }
}

TEST_CASE("describe_error names a bug as one and leaves other messages as they are") {
  CHECK(describe_error(NodeError("t1 is down")) == "t1 is down");
  CHECK(describe_error(std::system_error(std::make_error_code(std::errc::no_space_on_device), "write")) ==
        std::system_error(std::make_error_code(std::errc::no_space_on_device), "write").what());
  CHECK(describe_error(std::out_of_range("map::at")) ==
        "internal error: std::out_of_range: map::at (a bug in fleet; please report it)");
  CHECK(describe_error(InternalError("a phase ran twice")) ==
        "internal error: a phase ran twice (a bug in fleet; please report it)");
  CHECK(error_type_name(ConfigError("x")) == "fleet::ConfigError");
}

TEST_CASE("main reports an ordinary error in one line and an internal one as a bug") {
  auto [config_text, config_code] = report_of(ConfigError("fleet.json: no nodes"));
  CHECK(config_text == "fleet: error: fleet.json: no nodes\n");
  CHECK(config_code == ExitCode::usage);

  Error with_context("t1 is down");
  with_context.add_context("probing t1");
  auto [node_text, node_code] = report_of(with_context);
  CHECK(node_text == "fleet: error: t1 is down\n  … while probing t1\n");
  CHECK(node_code == ExitCode::node_failed);

  auto [bug_text, bug_code] = report_of(std::out_of_range("map::at"));
  CHECK(bug_text ==
        "fleet: internal error: std::out_of_range: map::at\n"
        "  … while running `fleet plan --on web`\n"
        "fleet: this is a bug in fleet, not in your configuration or machines; please report it with the lines above\n");
  CHECK(bug_code == ExitCode::internal);

  auto [odd_text, odd_code] = report_of(7);
  CHECK(odd_text.rfind("fleet: internal error: an exception that is not a std::exception\n", 0) == 0);
  CHECK(odd_code == ExitCode::internal);
}
