// SPDX-License-Identifier: MIT
#pragma once

#include <exception>
#include <iosfwd>
#include <string_view>

namespace fleet {

// Process exit codes of `fleet`, as the README documents them; `fleet-builder` uses the same.
enum class ExitCode : int {
  ok = 0,           // every selected node succeeded
  node_failed = 1,  // at least one node failed; the others went on
  usage = 2,        // usage or configuration error; nothing was touched
  locked = 3,       // another run holds the lock
  internal = 70,    // a bug in fleet, not a node's failure (sysexits' EX_SOFTWARE)
};

inline int to_int(ExitCode code) { return static_cast<int>(code); }

// The exit code the contract gives the kind of `e`, an exception that reached main():
// ConfigError → usage, LockHeld → locked, an internal error (is_internal_error: an
// InternalError or anything not a fleet::Error or std::system_error) → internal, any other
// fleet::Error or std::system_error → node_failed.
ExitCode exit_code_for(const std::exception& e) noexcept;

// Same for an exception of any type (not a std::exception: internal); a null pointer is ok.
ExitCode exit_code_for(const std::exception_ptr& e) noexcept;

// main()'s one report of an exception it caught; call it inside a catch block. Prints
//   <program>: error: <what>
// or, for an internal error,
//   <program>: internal error: <type>: <what>
//     … while <doing>
//   <program>: this is a bug in fleet, not in your configuration or machines; please report it
//   with the lines above
// to `err`, and returns exit_code_for(the exception). `doing` is a gerund phrase such as
// "running `fleet plan --on web`".
ExitCode report_uncaught(std::ostream& err, std::string_view program, std::string_view doing);

}  // namespace fleet
