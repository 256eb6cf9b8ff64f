#include "app/cli/commands.h"
#include "core/common/error.h"

namespace dype::cli {
int cmd_generate(int, char**) { throw Error("'dype generate' is being implemented"); }
}  // namespace dype::cli
