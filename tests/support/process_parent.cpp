// SPDX-License-Identifier: MIT
// A parent for the tests of end_children_with_this_process(): starts `sleep` through
// run_process(), prints "<its own pid> <the child's pid>" and waits there until it is killed.
// With "end-children", it asks for its children to end with it first.
#include "uploader/base/process.hpp"

#include <unistd.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "end-children") {
    fleet::end_children_with_this_process();
  }
  fleet::run_process({{"sh", "-c", "echo $$; exec sleep 60"}, {}, "", std::chrono::seconds{0}}, [](std::string_view line) {
    std::cout << ::getpid() << ' ' << line << std::endl;
  });
  return 0;
}
