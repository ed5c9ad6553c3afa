// SPDX-License-Identifier: MIT
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace fleet {

// Base of every error fleet raises on purpose. The message reads as a sentence for a person:
// what went wrong, the offending value, and where it helps, the fix.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  // Records where the error happened as it propagates: `context` is a gerund phrase such as
  // "uploading to builder 'b1'". Catch by reference, add, and `throw;` so the kind is kept.
  // Contexts render in the order added, innermost first, one per line after the message:
  //   cannot read 'a.nix': Permission denied
  //     … while packing /home/me/fleet
  //     … while preparing the source for builder 'b1'
  void add_context(const std::string& context);

  // The message without any context.
  const char* message() const noexcept { return std::runtime_error::what(); }

  // The contexts added so far, innermost first.
  const std::vector<std::string>& context() const noexcept { return m_context; }

  // The message followed by the contexts, as above.
  const char* what() const noexcept override { return m_context.empty() ? message() : m_rendered.c_str(); }

private:
  std::vector<std::string> m_context;
  std::string m_rendered;
};

// A bad fleet.json or command line: exit 2, nothing touched.
class ConfigError : public Error {
public:
  using Error::Error;
};

// A failure confined to one node or host (unreachable, build failed, ...): that node fails,
// the run goes on, exit 1.
class NodeError : public Error {
public:
  using Error::Error;
};

// Another run holds the lock: exit 3.
class LockHeld : public Error {
public:
  using Error::Error;
};

// Malformed data from the other side of a connection (an event, a job, a hello).
class ProtocolError : public Error {
public:
  using Error::Error;
};

// A state the code believes impossible was reached: a bug in fleet, not in the input, the
// configuration or a machine. Reported as an internal error (ExitCode::internal).
class InternalError : public Error {
public:
  using Error::Error;
};

// True when `e` is a bug rather than a failure of the step that threw it: an InternalError,
// or anything that is neither a fleet::Error nor a std::system_error (which includes
// std::filesystem::filesystem_error and iostream failures). So a std::logic_error, a
// std::out_of_range from at(), an nlohmann::json type_error or a std::bad_alloc are internal.
bool is_internal_error(const std::exception& e) noexcept;

// Same for an exception of any type; a null pointer is not internal.
bool is_internal_error(const std::exception_ptr& e) noexcept;

// The text to show for `e` where it is reported but not rethrown (an event, a warning, a
// per-node outcome): what() for an ordinary failure; for an internal error
// "internal error: <type>: <what> (a bug in fleet; please report it)", so a bug does not pass
// for a node's failure. The type is left out for an InternalError, whose message says it all.
std::string describe_error(const std::exception& e);

// The demangled dynamic type of `e` ("std::out_of_range", "fleet::ConfigError").
std::string error_type_name(const std::exception& e);

}  // namespace fleet
