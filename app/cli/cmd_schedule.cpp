#include "app/cli/commands.h"
#include "core/common/error.h"

namespace dype::cli {
int cmd_schedule(int, char**) { throw Error("'dype schedule' is being implemented"); }
}  // namespace dype::cli
