#pragma once
// Subcommands of the `dype` CLI; each lives in its own cmd_<name>.cpp. They return the process exit code
// (0 ok, 1 error, 130 interrupted) and may throw dype::Error, which main() prints.
namespace dype::cli {
int cmd_info(int argc, char** argv);      // dype info PATH
int cmd_schedule(int argc, char** argv);  // dype schedule ...
int cmd_generate(int argc, char** argv);  // dype generate ...
}  // namespace dype::cli
