// CMocka from C++: the headers it needs first, and a few assertions that print what differed.
#pragma once

// cmocka.h defines a fail() macro that breaks std::ios::fail, so every standard header that
// declares it is included before cmocka.h.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>

// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
extern "C" {  // cmocka 1.1 declares no C linkage of its own
#include <cmocka.h>
}
// clang-format on

#include <string>

#define assert_str(a, b) assert_string_equal(std::string(a).c_str(), std::string(b).c_str())
