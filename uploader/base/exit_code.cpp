// SPDX-License-Identifier: MIT
#include "uploader/base/exit_code.hpp"

#include "uploader/base/error.hpp"

#include <ostream>

namespace fleet {

ExitCode exit_code_for(const std::exception& e) noexcept {
  if (is_internal_error(e)) {
    return ExitCode::internal;
  }
  if (dynamic_cast<const ConfigError*>(&e) != nullptr) {
    return ExitCode::usage;
  }
  if (dynamic_cast<const LockHeld*>(&e) != nullptr) {
    return ExitCode::locked;
  }
  return ExitCode::node_failed;
}

ExitCode exit_code_for(const std::exception_ptr& e) noexcept {
  if (!e) {
    return ExitCode::ok;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& caught) {
    return exit_code_for(caught);
  } catch (...) {
    return ExitCode::internal;
  }
}

ExitCode report_uncaught(std::ostream& err, std::string_view program, std::string_view doing) {
  const auto current = std::current_exception();
  if (!current) {
    return ExitCode::ok;  // called outside a catch block: nothing to report
  }
  const ExitCode code = exit_code_for(current);
  std::string what;
  try {
    std::rethrow_exception(current);
  } catch (const std::exception& e) {
    if (code != ExitCode::internal) {
      err << program << ": error: " << e.what() << '\n';
      return code;
    }
    what = dynamic_cast<const Error*>(&e) != nullptr ? e.what() : error_type_name(e) + ": " + e.what();
  } catch (...) {
    what = "an exception that is not a std::exception";
  }
  err << program << ": internal error: " << what << "\n  … while " << doing << '\n'
      << program << ": this is a bug in fleet, not in your configuration or machines; please report it with the lines above\n";
  return code;
}

}  // namespace fleet
