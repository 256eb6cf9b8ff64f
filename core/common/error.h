#pragma once
// Typed exceptions thrown inside core/. They are caught once, at the worker boundary (GUI) or in main (CLI),
// and their what() is shown to the user as is: every message names the file / tensor / value at fault and,
// where we can tell, what to do about it.
#include <stdexcept>
#include <string>

namespace dype {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file exists but its content is not what its format promises (truncated, corrupt header, bad offsets).
class FormatError : public Error {
 public:
  using Error::Error;
};

// A checkpoint that parses but does not fit the architecture (missing/unexpected keys, shape mismatch).
class ModelError : public Error {
 public:
  using Error::Error;
};

// Invalid user input: impossible resolution, unknown method name, out-of-range value.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// Operating-system level failure: missing file, permission denied, disk full.
class IoError : public Error {
 public:
  using Error::Error;
};

// The request cannot fit in the memory of the chosen device.
class ResourceError : public Error {
 public:
  using Error::Error;
};

// The user cancelled; not an error for the user, but it unwinds the same way.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

}  // namespace dype
