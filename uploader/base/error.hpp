// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>

namespace fleet {

// Base of every error fleet raises on purpose. The message reads as a sentence for a person:
// what went wrong, the offending value, and where it helps, the fix.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  // Appends "\n  while <context>" so an error carries where it happened as it propagates.
  void add_context(const std::string& context);
  const char* what() const noexcept override { return m_message.empty() ? std::runtime_error::what() : m_message.c_str(); }

private:
  std::string m_message;
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

}  // namespace fleet
