#include "core/json_keys.hpp"

#include <cctype>

namespace rig {

std::string camelize(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  size_t i = 0;
  while (i < key.size() && key[i] == '_') out += key[i++];  // a leading underscore is not a word break
  for (; i < key.size(); ++i) {
    if (key[i] == '_' && i + 1 < key.size() && key[i + 1] != '_') {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(key[i + 1])));
      ++i;
    } else {
      out += key[i];
    }
  }
  return out;
}

std::string snakeize(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 4);
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (std::isupper(c)) {
      if (i > 0) out += '_';
      out += static_cast<char>(std::tolower(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

json camelize_keys(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (auto it = value.begin(); it != value.end(); ++it) out[camelize(it.key())] = camelize_keys(it.value());
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& v : value) out.push_back(camelize_keys(v));
    return out;
  }
  return value;
}

const json* find_arg(const json& data, std::string_view camel_name) {
  if (!data.is_object()) return nullptr;
  if (auto it = data.find(std::string(camel_name)); it != data.end()) return &*it;
  if (auto it = data.find(snakeize(camel_name)); it != data.end()) return &*it;
  return nullptr;
}

}  // namespace rig
