// The message of an exception a test expects.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <string>
#include <typeinfo>

namespace strand_tests {

/// Runs `fn`, which must throw E; returns the message (empty, with a failure, otherwise).
template <typename E>
std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected an exception, none was thrown";
  return {};
}

}  // namespace strand_tests
