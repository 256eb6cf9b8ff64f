#include "core/common/error.h"
// (Exceptions are header-only; this file keeps the module a real library for the build.)
