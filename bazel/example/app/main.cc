#include <iostream>

#include "lib/greet.h"
#include "lib/mathx.h"

int main() {
  std::cout << example::greet("zccache") << " " << mathx_scale(7) << " " << MATHX_FACTOR << std::endl;
  return 0;
}
