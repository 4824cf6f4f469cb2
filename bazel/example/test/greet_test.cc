#include <cstdio>

#include "lib/greet.h"

int main() {
  if (example::greet("bazel") != "hello, bazel") {
    std::fprintf(stderr, "unexpected greeting: %s\n", example::greet("bazel").c_str());
    return 1;
  }
  std::puts("greet_test: ok");
  return 0;
}
