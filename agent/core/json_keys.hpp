// Key spelling rules of the wire protocol (rpcservice.md §8): output keys are camelCase,
// input keys may be either spelling. Keys only; values are never touched.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace rig {

using json = nlohmann::ordered_json;

// `nested_list` -> `nestedList`; already-camelCase keys stay; a leading underscore stays.
std::string camelize(std::string_view key);
// `trainingMode` -> `training_mode`.
std::string snakeize(std::string_view key);
// camelize() on every key, recursively through objects and arrays of objects.
json camelize_keys(const json& value);
// An argument in `data` under its camelCase name, else its snake_case name (§6.1); nullptr if neither.
const json* find_arg(const json& data, std::string_view camel_name);

}  // namespace rig
