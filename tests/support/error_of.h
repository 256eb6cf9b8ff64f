#pragma once
// The message of the dype::Error that `f` throws ("(no error)" when it throws none), for tests that check what a
// user is told.
#include <functional>
#include <string>

#include "core/common/error.h"

namespace dype::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace dype::test
