#include "app/cli/commands.h"
#include "core/common/error.h"

namespace dype::cli {
int cmd_info(int, char**) { throw Error("'dype info' is being implemented"); }
}  // namespace dype::cli
