// Errors as values across module edges (the Mender C++ client's style): a function that can fail
// in an expected way returns Expected<T>, never throws past its module.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rig {

struct Error {
  std::string message;  // what happened and, where possible, what to do about it
  int code = 0;         // module-specific; 0 when the message says it all
};

template <typename T>
class Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Expected(Error error) : v_(std::move(error)) {}      // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : err_(std::move(error)) {}    // NOLINT
  bool has_value() const { return !err_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const { return *err_; }

 private:
  std::optional<Error> err_;
};

inline Error make_error(std::string message, int code = 0) { return Error{std::move(message), code}; }

}  // namespace rig
