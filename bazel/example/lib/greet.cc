#include "lib/greet.h"

namespace example {
std::string greet(const std::string& who) { return "hello, " + who; }
}
