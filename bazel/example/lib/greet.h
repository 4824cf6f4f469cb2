#pragma once
#include <string>

namespace example {
std::string greet(const std::string& who);
}
