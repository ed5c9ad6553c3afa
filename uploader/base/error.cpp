// SPDX-License-Identifier: MIT
#include "uploader/base/error.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <system_error>
#include <typeinfo>

namespace fleet {

void Error::add_context(const std::string& context) {
  m_context.push_back(context);
  if (m_rendered.empty()) {
    m_rendered = message();
  }
  m_rendered += "\n  … while " + context;
}

bool is_internal_error(const std::exception& e) noexcept {
  if (dynamic_cast<const Error*>(&e) != nullptr) {
    return dynamic_cast<const InternalError*>(&e) != nullptr;
  }
  return dynamic_cast<const std::system_error*>(&e) == nullptr;
}

bool is_internal_error(const std::exception_ptr& e) noexcept {
  if (!e) {
    return false;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& caught) {
    return is_internal_error(caught);
  } catch (...) {
    return true;  // not even a std::exception: nothing fleet throws on purpose
  }
}

std::string error_type_name(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                                       &std::free);
  return status == 0 && demangled ? demangled.get() : mangled;
}

std::string describe_error(const std::exception& e) {
  if (!is_internal_error(e)) {
    return e.what();
  }
  // An InternalError's message says what was wrong; a library's ("map::at") needs its type.
  const bool ours = dynamic_cast<const Error*>(&e) != nullptr;
  return "internal error: " + (ours ? std::string() : error_type_name(e) + ": ") + e.what() +
         " (a bug in fleet; please report it)";
}

}  // namespace fleet
